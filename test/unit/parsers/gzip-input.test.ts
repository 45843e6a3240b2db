import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { chunked, countingStream, gz, MiB, openError, readAll } from './parser-test-kit.js';

describe('gzip input', () => {
  it.each([
    ['customers.csv.gz', 'csv', 'id,name\n1,Ann\n2,Bob\n'],
    ['customers.tsv.gz', 'tsv', 'id\tname\n1\tAnn\n2\tBob\n'],
    ['customers.json.gz', 'json', '[{"id":"1","name":"Ann"},{"id":"2","name":"Bob"}]'],
    ['customers.ndjson.gz', 'ndjson', '{"id":"1","name":"Ann"}\n{"id":"2","name":"Bob"}\n'],
    ['customers.xml.gz', 'xml', '<c><r><id>1</id><name>Ann</name></r><r><id>2</id><name>Bob</name></r></c>'],
  ])('reads %s', async (fileName, format, content) => {
    const out = await readAll(chunked(gz(content), 7), { fileName });
    expect(out.file).toMatchObject({ format, compressed: true });
    expect(out.records).toEqual([
      { id: '1', name: 'Ann' },
      { id: '2', name: 'Bob' },
    ]);
  });

  it('detects gzip by its magic bytes whatever the name, then sniffs the content', async () => {
    const out = await readAll(Readable.from([gz('[{"a":1}]')]), { fileName: 'upload.dat', contentType: 'application/octet-stream' });
    expect(out.file).toMatchObject({ format: 'json', compressed: true });
    expect(out.records).toEqual([{ a: 1 }]);
  });

  it('reads gzip even when the name says plain CSV, and gzip of a UTF-16 file', async () => {
    const out = await readAll(Readable.from([gz(iconv.encode('\uFEFFa,b\n1,ä\n', 'utf-16le'))]), { fileName: 'x.csv' });
    expect(out.file).toMatchObject({ format: 'csv', compressed: true, encoding: 'utf-16le' });
    expect(out.records).toEqual([{ a: '1', b: 'ä' }]);
  });

  it('rejects a truncated gzip as invalid_gzip at open when nothing decodes', async () => {
    const whole = gz('id,name\n1,Ann\n');
    expect((await openError(Readable.from([whole.subarray(0, 12)]), { fileName: 'x.csv.gz' })).code).toBe('invalid_gzip');
  });

  it('rejects a truncated gzip as invalid_gzip after the rows it did hold', async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => `{"id":${i},"pad":"${(i * 7919).toString(36)}"}`).join('\n');
    const whole = gz(lines);
    const out = await readAll(Readable.from([whole.subarray(0, Math.floor(whole.length * 0.8))]), { fileName: 'x.ndjson.gz' });
    expect(out.error?.code).toBe('invalid_gzip');
    expect(out.records.length).toBeGreaterThan(1000);
    expect(out.rows.every((r, i) => r.row === i + 1)).toBe(true);
  });

  it('rejects corrupt gzip data as invalid_gzip', async () => {
    const whole = gz('id,name\n1,Ann\n');
    const corrupt = Buffer.from(whole);
    corrupt.fill(0xff, 10, 20);
    expect((await openError(Readable.from([corrupt]), { fileName: 'x.csv.gz' })).code).toBe('invalid_gzip');
  });

  it('rejects an empty gzip member as empty_file', async () => {
    expect((await openError(Readable.from([gz('')]), { fileName: 'x.csv.gz' })).code).toBe('empty_file');
  });

  it('stops a gzip bomb at maxDecompressedBytes without reading the rest', async () => {
    // 200 MB of zeros inside an ~200 KB gzip, made on the fly. They form 1 KiB
    // CSV lines so that only the decompressed size, not the record size, is at fault.
    const zeros = Buffer.alloc(MiB, `${'0'.repeat(1021)},0\n`);
    const parts: Buffer[] = [];
    const gzip = createGzip({ level: 9 });
    gzip.on('data', (chunk: Buffer) => parts.push(chunk));
    const done = new Promise((resolve) => gzip.on('end', resolve));
    for (let i = 0; i < 200; i++) gzip.write(zeros);
    gzip.end();
    await done;
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeLessThan(1 * MiB);

    const { stream, bytesRead } = countingStream(function* () {
      for (let i = 0; i < bomb.length; i += 4096) yield bomb.subarray(i, i + 4096);
    });
    const out = await readAll(stream, { fileName: 'bomb.csv.gz', maxDecompressedBytes: 10 * MiB })
      .then((o) => o.error)
      .catch((err: unknown) => err);
    expect(out).toMatchObject({ code: 'decompressed_too_large' });
    // Reading stopped right after the limit: far from the whole compressed file.
    expect(bytesRead()).toBeLessThan(bomb.length / 4);
    expect(stream.destroyed).toBe(true);
  });

  it('enforces maxDecompressedBytes only on compressed input', async () => {
    const out = await readAll(Readable.from([Buffer.from('a,b\n1,2\n')]), { fileName: 'x.csv', maxDecompressedBytes: 4 });
    expect(out.records).toEqual([{ a: '1', b: '2' }]);
  });

  it('reads plain content named .gz as plain text', async () => {
    const out = await readAll(Readable.from([Buffer.from('a,b\n1,2\n')]), { fileName: 'x.csv.gz' });
    expect(out.file).toMatchObject({ format: 'csv', compressed: false });
    expect(out.records).toEqual([{ a: '1', b: '2' }]);
  });

  it('reads a multi-member gzip and rejects trailing garbage', async () => {
    const multi = await readAll(Readable.from([Buffer.concat([gz('a,b\n1,2\n'), gz('3,4\n')])]), { fileName: 'x.csv.gz' });
    expect(multi.records).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
    const garbage = Buffer.concat([gz('a,b\n1,2\n'), Buffer.from('not gzip')]);
    expect((await openError(Readable.from([garbage]), { fileName: 'x.csv.gz' })).code).toBe('invalid_gzip');
  });
});
