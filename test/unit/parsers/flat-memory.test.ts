import { describe, expect, it } from 'vitest';
import { openRecordFile } from '../../../src/ingest/parsers/index.js';
import { countingStream, forceGc, heapUsed, MiB, readAll } from './parser-test-kit.js';

const CHUNK = 64 * 1024;

function* endlessLine(prefix: string, total: number): Generator<Buffer> {
  yield Buffer.from(prefix);
  const filler = Buffer.alloc(CHUNK, 'x');
  for (let sent = prefix.length; sent < total; sent += CHUNK) yield Buffer.from(filler);
}

describe('flat memory', () => {
  it.each([
    ['customers.csv', 'id,name\n0,ok\n1,'],
    ['events.ndjson', '{"a":1}\n{"name":"'],
    ['items.json', '[{"a":1},{"name":"'],
    ['items.xml', '<r><c>1</c><c>'],
  ])('fails %s on a 5 MiB line without newline (limit 1 MiB) without holding it', async (fileName, prefix) => {
    const fileSize = 5 * MiB;
    forceGc();
    const before = heapUsed();
    let peak = before;
    const { stream, bytesRead } = countingStream(function* () {
      for (const chunk of endlessLine(prefix, fileSize)) {
        peak = Math.max(peak, heapUsed());
        yield chunk;
      }
    });
    const out = await readAll(stream, { fileName, maxRecordBytes: 1 * MiB });
    expect(out.error?.code).toBe('record_too_large');
    // The first, well-formed record was still delivered before the failure.
    expect(out.rows[0]).toMatchObject({ row: 1, ok: true });
    // Reading stopped soon after the limit, and the heap never came near the line's size.
    expect(bytesRead()).toBeLessThan(2 * MiB);
    expect(peak - before).toBeLessThan(2 * MiB);
    expect(stream.destroyed).toBe(true);
  });

  it.each([
    ['bare delimiters', ','.repeat(CHUNK)],
    ['empty cells between quoted line breaks', `${','.repeat(CHUNK - 4)}"\n",`],
  ])('fails a CSV record of 5 MiB of %s (limit 1 MiB) before its cell list grows', async (_name, pattern) => {
    const { stream, bytesRead } = countingStream(function* () {
      yield Buffer.from('id,name\n0,ok\n');
      for (let sent = 0; sent < 5 * MiB; sent += CHUNK) yield Buffer.from(pattern);
    });
    const out = await readAll(stream, { fileName: 'cells.csv', maxRecordBytes: 1 * MiB });
    expect(out.records).toEqual([{ id: '0', name: 'ok' }]);
    expect(out.error?.code).toBe('record_too_large');
    expect(bytesRead()).toBeLessThan(2 * MiB);
  });

  it('streams a 300k-row generated CSV with a flat heap', async () => {
    const rows = 300_000;
    const { stream, bytesRead } = countingStream(function* () {
      yield Buffer.from('customer_id,first_name,last_name,email,phone,city,notes\n');
      let batch = '';
      for (let i = 1; i <= rows; i++) {
        batch += `${String(i).padStart(9, '0')},First${i},Last${i},user${i}@example.com,+49 30 ${i},Berlin,"note, ""${i}"""\n`;
        if (batch.length > CHUNK) {
          yield Buffer.from(batch);
          batch = '';
        }
      }
      yield Buffer.from(batch);
    });
    forceGc();
    const before = heapUsed();
    let retained = 0;
    const file = await openRecordFile(stream, { fileName: 'big.csv', maxDecompressedBytes: 1024 * MiB, maxRecordBytes: MiB });
    let count = 0;
    let last = '';
    for await (const row of file.rows) {
      count++;
      if (row.ok) last = row.data;
      if (count % 50_000 === 0) {
        forceGc();
        retained = Math.max(retained, heapUsed() - before);
      }
    }
    expect(count).toBe(rows);
    expect(JSON.parse(last)).toMatchObject({ customer_id: '000300000', notes: 'note, "300000"' });
    const fileSize = bytesRead();
    expect(fileSize).toBeGreaterThan(25 * MiB);
    // What stays alive while streaming is a few chunks (~0.5 MiB measured), not the file.
    expect(retained).toBeLessThan(4 * MiB);
  });

  it('releases the input when the reader stops early', async () => {
    const { stream, bytesRead } = countingStream(function* () {
      yield Buffer.from('id\n');
      for (let i = 0; ; i++) yield Buffer.from(`${i}\n`.repeat(1000));
    });
    const file = await openRecordFile(stream, { fileName: 'x.csv', maxDecompressedBytes: MiB, maxRecordBytes: MiB });
    let seen = 0;
    for await (const row of file.rows) {
      expect(row.ok).toBe(true);
      if (++seen === 5000) break;
    }
    expect(stream.destroyed).toBe(true);
    expect(bytesRead()).toBeLessThan(MiB);
  });

  it('stops with an AbortError when the signal fires', async () => {
    const controller = new AbortController();
    const { stream } = countingStream(function* () {
      yield Buffer.from('{"a":0}\n');
      for (let i = 1; ; i++) yield Buffer.from(`{"a":${i}}\n`);
    });
    const file = await openRecordFile(stream, {
      fileName: 'x.ndjson',
      maxDecompressedBytes: MiB,
      maxRecordBytes: MiB,
      signal: controller.signal,
    });
    let seen = 0;
    const read = (async () => {
      for await (const _row of file.rows) if (++seen === 100) controller.abort();
    })();
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
    expect(stream.destroyed).toBe(true);
  });
});
