// Every supported format through the whole path: upload → poller → records read back
// through the API, with the job's counters, and the bad inputs the ingestion issue lists,
// each with its job outcome and what is left in the table and the bucket afterwards.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import {
  bucketObjects,
  createPoller,
  createProjectWithKey,
  eventually,
  generatedStream,
  listen,
  readObject,
  recordsOfJob,
  streamRequest,
  uploadFile,
  waitForJob,
  type JobView,
  type ReadRecord,
  type TestProject,
} from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/ingest/${name}`, import.meta.url));

interface Ingested {
  p: TestProject;
  job: JobView;
  records: ReadRecord[];
  accepted: { fileId: string; jobId: string; bytes: number };
}

/**
 * One project per app for the files of this test file: every check is by job and file id,
 * and a poller pass lists every project's bucket, so fewer projects keep passes short.
 */
const sharedProjects = new WeakMap<TestApp, Promise<TestProject>>();
function sharedProject(t: TestApp): Promise<TestProject> {
  let p = sharedProjects.get(t);
  if (!p) {
    p = createProjectWithKey(t, 'fmt');
    sharedProjects.set(t, p);
  }
  return p;
}

/** Uploads one file, waits for its job, reads back the records of that job. */
async function ingest(t: TestApp, name: string, body: Buffer | string, contentType?: string): Promise<Ingested> {
  const p = await sharedProject(t);
  // One project takes many files, some with the same bytes under another name or type:
  // force each to be parsed (a repeat of ingested bytes is otherwise not parsed again).
  const accepted = await uploadFile(t, p, name, body, contentType, { force: 'true' });
  return collect(t, p, accepted);
}

async function collect(t: TestApp, p: TestProject, accepted: Ingested['accepted']): Promise<Ingested> {
  const job = await waitForJob(t, p, accepted.jobId);
  const records = await recordsOfJob(t, p, accepted.jobId);
  return { p, job, records, accepted };
}

/** What every finished job must show, whatever its outcome. */
async function expectSettled(t: TestApp, r: Ingested, status: string): Promise<void> {
  const { job, p, accepted } = r;
  expect(job.status, JSON.stringify(job)).toBe(status);
  expect(job.fileId).toBe(accepted.fileId);
  expect(job.bytesTotal).toBe(accepted.bytes);
  expect(job.recordsWritten).toBe(r.records.length);
  expect(job.rowsRead).toBe(job.recordsWritten + job.rowsRejected);
  expect(job.startedAt).not.toBeNull();
  expect(job.finishedAt).not.toBeNull();
  expect(Date.parse(job.createdAt)).toBeLessThanOrEqual(Date.parse(job.startedAt!));
  expect(Date.parse(job.startedAt!)).toBeLessThanOrEqual(Date.parse(job.finishedAt!));
  const settled = status === 'failed' ? 'failed' : 'processed';
  expect(job.objectKey.startsWith(`${settled}/${accepted.fileId}/`)).toBe(true);
  // The job records its outcome just before the object moves (copy, then delete): wait for the move.
  const settledKeys = async () => ({
    incoming: (await bucketObjects(t, p, `incoming/${accepted.fileId}/`)).map((o) => o.key),
    target: await t.storage.objects.head(p.project.bucketName, job.objectKey),
  });
  let state = await settledKeys();
  await eventually(async () => {
    state = await settledKeys();
    return state.incoming.length === 0 && state.target !== null;
  }, `${job.objectKey} to replace its incoming object`);
  expect(state.incoming).toEqual([]);
  expect(state.target?.size).toBe(accepted.bytes);
  // Every record names its file, job and row; ids derive from (file, row), rows are 1-based.
  for (const record of r.records) {
    expect(record.source).toMatchObject({ type: 'file', fileId: accepted.fileId, jobId: accepted.jobId, fileName: job.fileName });
    expect(Number.isInteger(record.source.row) && record.source.row >= 1).toBe(true);
  }
  expect(new Set(r.records.map((x) => x.source.row)).size).toBe(r.records.length);
}

async function expectSucceeded(t: TestApp, r: Ingested, format: string): Promise<void> {
  await expectSettled(t, r, 'succeeded');
  expect(r.job).toMatchObject({ format, rowsRejected: 0, errors: [], errorReportKey: null, failure: null });
  expect(r.job.bytesRead).toBe(r.job.bytesTotal);
}

async function expectFailed(t: TestApp, r: Ingested, code: string): Promise<void> {
  await expectSettled(t, r, 'failed');
  expect(r.job.failure?.code, JSON.stringify(r.job)).toBe(code);
  expect(r.job.failure?.message.length).toBeGreaterThan(0);
}

const data = (r: Ingested) => r.records.map((x) => x.data);

async function gzipOf(source: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(source, createGzip({ level: 9 }), async (compressed: AsyncIterable<Buffer>) => {
    for await (const part of compressed) parts.push(part);
  });
  return Buffer.concat(parts);
}

describe('formats through the whole path', () => {
  let t: TestApp;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp();
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  const customersCsv = fixture('customers-bom-crlf.csv');
  const customers = [
    { id: '007', name: 'Smith, John', note: 'He said "hi"', phone: '0123' },
    { id: '008', name: 'Ann', note: 'line one\r\nline two', phone: '00' },
    { id: '009', name: 'Zoë ☃', note: '', phone: '+44 020' },
  ];

  it('CSV with BOM, CRLF, quoted commas, quotes and newlines; leading zeros stay strings', async () => {
    const r = await ingest(t, 'customers.csv', customersCsv, 'text/csv');
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual(customers);
    expect(r.job).toMatchObject({ rowsRead: 3, recordsWritten: 3, fileName: 'customers.csv' });
    expect(r.records.map((x) => x.source.row)).toEqual([1, 2, 3]);
    // Each record reads back on its own by id, and the ids are stable per (file, row).
    const one = await request(t.app).get(`/v1/projects/${r.p.id}/records/${r.records[1]!.id}`).set(r.p.auth);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: r.records[1]!.id, data: customers[1], source: { row: 2, jobId: r.job.id } });
    expect(new Set(r.records.map((x) => x.id)).size).toBe(3);
  });

  it('CSV with a semicolon delimiter is detected (and said so in the job)', async () => {
    const r = await ingest(t, 'semi.csv', 'code;amount;city\n0042;1,50;Köln\n0043;2,00;Genève\n', 'text/csv');
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual([
      { code: '0042', amount: '1,50', city: 'Köln' },
      { code: '0043', amount: '2,00', city: 'Genève' },
    ]);
    expect(r.job.notices.join(' ')).toMatch(/delimiter/);
  });

  it('CSV with mixed line endings, a pipe delimiter and duplicate headers', async () => {
    const r = await ingest(t, 'pipes.csv', ' id | name |name\r\n1|a|b\n2|c|d\r3|e|f\n');
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual([
      { id: '1', name: 'a', name_2: 'b' },
      { id: '2', name: 'c', name_2: 'd' },
      { id: '3', name: 'e', name_2: 'f' },
    ]);
    expect(r.job.notices.join(' ')).toMatch(/duplicate header/);
  });

  it('TSV by extension and by content type', async () => {
    const body = 'sku\tlabel\n000123\tA, "quoted"\n000124\tB\n';
    const byName = await ingest(t, 'items.tsv', body);
    await expectSucceeded(t, byName, 'tsv');
    expect(data(byName)).toEqual([
      { sku: '000123', label: 'A, "quoted"' },
      { sku: '000124', label: 'B' },
    ]);
    const byType = await ingest(t, 'items', body, 'text/tab-separated-values');
    await expectSucceeded(t, byType, 'tsv');
    expect(data(byType)).toEqual(data(byName));
  });

  it('JSON array: nested values, unicode, big integers and decimals exactly as written', async () => {
    const body =
      '[\n {"id": 12345678901234567890123, "price": 1.10, "ok": true, "none": null, "nested": {"a": [1, {"b": "ü☃😀"}]}},\n' +
      ' {"id": 2, "name": "Bob"}\n]\n';
    const r = await ingest(t, 'customers.json', body, 'application/json');
    await expectSucceeded(t, r, 'json');
    expect(r.job.rowsRead).toBe(2);
    // The API sends `data` as stored text: read it raw, not through JSON.parse.
    const raw = await request(t.app).get(`/v1/projects/${r.p.id}/records/${r.records[0]!.id}`).set(r.p.auth).buffer(true);
    expect(raw.text).toContain('"data":{"id":12345678901234567890123,"price":1.10,"ok":true,"none":null,"nested":{"a":[1,{"b":"ü☃😀"}]}}');
    expect(r.records[1]!.data).toEqual({ id: 2, name: 'Bob' });
  });

  it('NDJSON with CRLF and blank lines', async () => {
    const r = await ingest(t, 'customers.ndjson', fixture('customers.ndjson'));
    await expectSucceeded(t, r, 'ndjson');
    expect(r.job.rowsRead).toBe(3);
    expect(r.records.map((x) => x.source.row)).toEqual([1, 2, 3]);
    expect(r.records[0]!.data).toEqual({ id: 1, name: 'Ann', tags: ['a', 'b'] });
    expect(r.records[2]!.data).toEqual({ id: 3, name: 'Zoë ☃' });
    const raw = await request(t.app).get(`/v1/projects/${r.p.id}/records/${r.records[1]!.id}`).set(r.p.auth).buffer(true);
    expect(raw.text).toContain('"id":12345678901234567890123,"price":1.10');
  });

  it('XML: each repeated child of the root is a record, attributes and nested elements become fields', async () => {
    const r = await ingest(t, 'customers.xml', fixture('customers.xml'), 'application/xml');
    await expectSucceeded(t, r, 'xml');
    expect(data(r)).toEqual([
      { '@id': '001', '@type': 'vip', name: 'Ann', address: { city: 'Paris', zip: '07500' }, tag: ['a', 'b'] },
      { '@id': '002', name: 'Bob & Co é', notes: '<b>not markup</b>' },
      { '@id': '003' },
    ]);
  });

  it.each([
    ['customers.csv.gz', customersCsv, 'csv'],
    ['customers.ndjson.gz', fixture('customers.ndjson'), 'ndjson'],
    ['customers.xml.gz', fixture('customers.xml'), 'xml'],
    ['items.tsv.gz', Buffer.from('sku\tlabel\n000123\tA\n'), 'tsv'],
    ['customers.json.gz', Buffer.from('[{"id": 1}, {"id": 2}]'), 'json'],
  ])('gzip: %s', async (name, plain, format) => {
    const plainRun = await ingest(t, name.replace(/\.gz$/, ''), plain);
    const gz = gzipSync(plain);
    const r = await ingest(t, name, gz, 'application/gzip');
    await expectSucceeded(t, r, format);
    // bytes are counted as stored (compressed).
    expect(r.job.bytesTotal).toBe(gz.length);
    expect(data(r)).toEqual(data(plainRun));
    expect(data(r).length).toBeGreaterThan(0);
  });

  it('a gzip of several members (cat a.gz b.gz) is read to the end', async () => {
    const r = await ingest(t, 'joined.ndjson.gz', Buffer.concat([gzipSync('{"a": 1}\n{"a": 2}\n'), gzipSync('{"a": 3}\n')]));
    await expectSucceeded(t, r, 'ndjson');
    expect(data(r)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
  });

  it('gzip is recognised by its magic bytes even when the name does not say so', async () => {
    const r = await ingest(t, 'customers.csv', gzipSync(customersCsv));
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual(customers);
  });

  it('a Latin-1 (Windows-1252) CSV is decoded, not stored as mojibake', async () => {
    const r = await ingest(t, 'latin1.csv', fixture('latin1.csv'), 'text/csv');
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual([
      { name: 'José', city: 'Zürich', note: 'naïve café £5' },
      { name: 'Åsa', city: 'Malmö', note: '«quoted»' },
    ]);
    expect(r.job.notices.join(' ')).toMatch(/windows-1252/);
  });

  it('a UTF-16 CSV with a BOM is decoded', async () => {
    const text = 'name,city\nJosé,東京\n';
    const r = await ingest(t, 'utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual([{ name: 'José', city: '東京' }]);
  });

  it('the format is sniffed from the first bytes when neither name nor type says it', async () => {
    const r = await ingest(t, 'upload.dat', '[{"a": "1"}]', 'application/octet-stream');
    await expectSucceeded(t, r, 'json');
    const x = await ingest(t, 'upload', '<rows><row a="1"/></rows>', 'application/octet-stream');
    await expectSucceeded(t, x, 'xml');
    expect(data(x)).toEqual([{ '@a': '1' }]);
  });

  it('a file whose name has spaces, plus signs and non-ASCII characters is ingested and settled', async () => {
    const r = await ingest(t, 'Kundenliste März + Q1 (final) 名前.csv', 'a,b\n1,2\n', 'text/csv');
    await expectSucceeded(t, r, 'csv');
    expect(r.job.objectKey).toBe(`processed/${r.accepted.fileId}/Kundenliste März + Q1 (final) 名前.csv`);
    expect(r.records[0]!.source.fileName).toBe('Kundenliste März + Q1 (final) 名前.csv');
  });

  describe('jobs API', () => {
    it('lists jobs newest first with paging', async () => {
      const p = await createProjectWithKey(t, 'jobs');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await uploadFile(t, p, `f${i}.csv`, `a\n${i}\n`, 'text/csv')).jobId);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await request(t.app)
          .get(`/v1/projects/${p.id}/jobs`)
          .query(cursor === null ? { limit: 2 } : { limit: 2, cursor })
          .set(p.auth);
        expect(res.status).toBe(200);
        pages.push((res.body.items as JobView[]).map((j) => j.id));
        cursor = res.body.nextCursor as string | null;
      } while (cursor !== null && pages.length < 10);
      expect(pages.slice(0, 2).map((page) => page.length)).toEqual([2, 2]);
      expect(pages.flat()).toEqual([...ids].reverse());
      for (const id of ids) await waitForJob(t, p, id);

      const bad = await request(t.app).get(`/v1/projects/${p.id}/jobs`).query({ cursor: 'not-a-cursor' }).set(p.auth);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_cursor');
      const badLimit = await request(t.app).get(`/v1/projects/${p.id}/jobs`).query({ limit: 0 }).set(p.auth);
      expect(badLimit.status).toBe(400);
    });

    it('a cursor from another project is refused', async () => {
      const a = await createProjectWithKey(t, 'jobs');
      const b = await createProjectWithKey(t, 'jobs');
      for (let i = 0; i < 3; i++) await uploadFile(t, a, `f${i}.csv`, 'a\n1\n', 'text/csv');
      const first = await request(t.app).get(`/v1/projects/${a.id}/jobs`).query({ limit: 1 }).set(a.auth);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const foreign = await request(t.app).get(`/v1/projects/${b.id}/jobs`).query({ cursor: first.body.nextCursor }).set(b.auth);
      expect(foreign.status).toBe(400);
      expect(foreign.body.error.code).toBe('invalid_cursor');
    });

    it('GET of an unknown job → 404 job_not_found', async () => {
      const p = await createProjectWithKey(t, 'jobs');
      for (const id of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'x'.repeat(500)]) {
        const res = await request(t.app).get(`/v1/projects/${p.id}/jobs/${id}`).set(p.auth);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('job_not_found');
      }
    });
  });

  describe('bad input', () => {
    it('an empty file fails with empty_file and nothing is stored', async () => {
      const r = await ingest(t, 'empty.csv', Buffer.alloc(0), 'text/csv');
      await expectFailed(t, r, 'empty_file');
      expect(r.records).toEqual([]);
      const blank = await ingest(t, 'blank.ndjson', '\n \r\n\t\n');
      await expectFailed(t, blank, 'empty_file');
      expect(blank.records).toEqual([]);
    });

    it('a header-only CSV succeeds with 0 records', async () => {
      const r = await ingest(t, 'header.csv', 'id,name,email\r\n', 'text/csv');
      await expectSucceeded(t, r, 'csv');
      expect(r.job).toMatchObject({ rowsRead: 0, recordsWritten: 0 });
      expect(r.records).toEqual([]);
    });

    it('ragged rows are rejected with their row numbers; the good rows are stored (partial)', async () => {
      const r = await ingest(t, 'ragged.csv', 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n', 'text/csv');
      await expectSettled(t, r, 'partial');
      expect(r.job).toMatchObject({ rowsRead: 4, recordsWritten: 2, rowsRejected: 2, failure: null });
      expect(data(r)).toEqual([
        { a: '1', b: '2', c: '3' },
        { a: '10', b: '11', c: '12' },
      ]);
      expect(r.records.map((x) => x.source.row)).toEqual([1, 4]);
      expect(r.job.errors.map((e) => [e.row, e.code])).toEqual([
        [2, 'column_count_mismatch'],
        [3, 'column_count_mismatch'],
      ]);
      expect(r.job.errorReportKey).toEqual(expect.any(String));
      const report = (await readObject(t, r.p, r.job.errorReportKey!)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
      expect(report).toEqual(r.job.errors);
    });

    it('past 100 errors the job keeps the first 100 and the report keeps them all', async () => {
      const lines = ['a,b'];
      for (let i = 1; i <= 260; i++) lines.push(i % 2 === 0 ? `${i},ok` : `${i}`);
      const r = await ingest(t, 'many-bad.csv', `${lines.join('\n')}\n`, 'text/csv');
      await expectSettled(t, r, 'partial');
      expect(r.job).toMatchObject({ rowsRead: 260, recordsWritten: 130, rowsRejected: 130 });
      expect(r.job.errors).toHaveLength(100);
      expect(r.job.errors[0]).toMatchObject({ row: 1, code: 'column_count_mismatch' });
      const report = (await readObject(t, r.p, r.job.errorReportKey!)).toString('utf8').trim().split('\n');
      expect(report).toHaveLength(130);
      expect((JSON.parse(report[129]!) as { row: number }).row).toBe(259);
    });

    it('a file whose every row is bad fails with all_rows_rejected', async () => {
      const r = await ingest(t, 'all-bad.csv', 'a,b\n1\n2\n3,4,5\n', 'text/csv');
      await expectFailed(t, r, 'all_rows_rejected');
      expect(r.job).toMatchObject({ rowsRead: 3, recordsWritten: 0, rowsRejected: 3 });
      expect(r.job.errors.map((e) => e.row)).toEqual([1, 2, 3]);
      expect(r.records).toEqual([]);
    });

    it('an unterminated quote at the end rejects that last row; rows before it are stored', async () => {
      const r = await ingest(t, 'open-quote.csv', 'a,b\n1,2\n3,4\n5,"never closed\n6,7\n', 'text/csv');
      await expectSettled(t, r, 'partial');
      expect(data(r)).toEqual([
        { a: '1', b: '2' },
        { a: '3', b: '4' },
      ]);
      expect(r.job.errors).toEqual([expect.objectContaining({ row: 3, code: 'unterminated_quote' })]);
    });

    it('invalid UTF-8 past the first 64 KiB rejects the rows holding it (partial)', async () => {
      const lines = ['id,text'];
      // Long rows, so that few records fill the first 64 KiB (the encoding sample).
      for (let i = 1; i <= 200; i++) lines.push(`${i},valid text ${'ü'.repeat(200)}`);
      const head = Buffer.from(`${lines.join('\n')}\n`);
      expect(head.length).toBeGreaterThan(64 * 1024);
      const bad = Buffer.concat([Buffer.from('201,bad '), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(' bytes\n')]);
      const r = await ingest(t, 'late-invalid.csv', Buffer.concat([head, bad, Buffer.from('202,fine\n')]), 'text/csv');
      await expectSettled(t, r, 'partial');
      expect(r.job).toMatchObject({ rowsRead: 202, recordsWritten: 201, rowsRejected: 1 });
      expect(r.job.errors).toEqual([expect.objectContaining({ row: 201, code: 'invalid_encoding' })]);
      expect(r.records.some((x) => JSON.stringify(x.data).includes('\uFFFD'))).toBe(false);
      expect(r.records.at(-1)!.data).toEqual({ id: '202', text: 'fine' });
    });

    it('invalid UTF-8 in an NDJSON line rejects that line', async () => {
      const lines = [];
      for (let i = 1; i <= 200; i++) lines.push(`{"i": ${i}, "pad": "${'x'.repeat(400)}"}`);
      const body = Buffer.concat([
        Buffer.from(`${lines.join('\n')}\n`),
        Buffer.from('{"i": "bad '),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}\n{"i": 202}\n'),
      ]);
      const r = await ingest(t, 'late-invalid.ndjson', body);
      await expectSettled(t, r, 'partial');
      expect(r.job.errors).toEqual([expect.objectContaining({ row: 201, code: 'invalid_encoding' })]);
      expect(r.job).toMatchObject({ recordsWritten: 201, rowsRejected: 1 });
    });

    it('a 5 MiB single line without a newline fails cleanly with record_too_large', async () => {
      const server = await listen(t.app);
      try {
        for (const [name, fill] of [
          ['long-line.csv', 0x61],
          ['long-line.ndjson', 0x20],
        ] as const) {
          const p = await sharedProject(t);
          const body = name.endsWith('.ndjson')
            ? Readable.from(
                (function* () {
                  yield Buffer.from('{"a": "');
                  yield* Array.from({ length: 80 }, () => Buffer.alloc(64 * 1024, 0x62));
                  yield Buffer.from('"}');
                })(),
              )
            : generatedStream(5 * 1024 * 1024, (_o, size) => Buffer.alloc(size, fill));
          const res = await streamRequest(server.port, {
            method: 'PUT',
            path: `/v1/projects/${p.id}/files/${name}`,
            headers: { ...p.auth, 'Content-Type': 'text/plain' },
            body,
          });
          expect(res.status).toBe(202);
          const r = await collect(t, p, res.body as Ingested['accepted']);
          await expectFailed(t, r, 'record_too_large');
          // The job says how far it read: past the record limit.
          expect(r.job.bytesRead).toBeGreaterThan(400 * 1024);
          expect(r.job.bytesRead).toBeLessThanOrEqual(r.job.bytesTotal);
          expect(r.records).toEqual([]);
        }
      } finally {
        await server.close();
      }
    });

    it('rows before a too-large record are accounted for exactly', async () => {
      const lines = ['id,v'];
      // One write chunk (500 rows) goes out before the failure, 100 rows are still in hand.
      for (let i = 1; i <= 600; i++) lines.push(`${i},x`);
      const body = Buffer.concat([Buffer.from(`${lines.join('\n')}\n601,`), Buffer.alloc(600 * 1024, 0x7a), Buffer.from('\n602,y\n')]);
      const r = await ingest(t, 'late-long.csv', body, 'text/csv');
      await expectFailed(t, r, 'record_too_large');
      // Every valid row before the failure is stored, and counted; nothing after it.
      expect(r.job).toMatchObject({ rowsRead: 600, recordsWritten: 600, rowsRejected: 0 });
      expect(r.job.bytesRead).toBeGreaterThan(600 * 5);
      expect(r.job.bytesRead).toBeLessThanOrEqual(r.job.bytesTotal);
      expect(r.records.map((x) => x.source.row)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    });

    it('a truncated gzip fails with invalid_gzip', async () => {
      const lines = ['id,name'];
      for (let i = 1; i <= 800; i++) lines.push(`${i},name ${i} ${'q'.repeat(i % 37)}`);
      const gz = gzipSync(Buffer.from(lines.join('\n')));
      const r = await ingest(t, 'cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
      await expectFailed(t, r, 'invalid_gzip');
      expect(r.records.length).toBe(r.job.recordsWritten);
      const garbage = await ingest(t, 'garbage.csv.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(200, 0x41)]));
      await expectFailed(t, garbage, 'invalid_gzip');
      expect(garbage.records).toEqual([]);
    });

    it('malformed JSON in the middle of an NDJSON file rejects that line only', async () => {
      const r = await ingest(t, 'mid.ndjson', '{"a": 1}\n{"a": 2,, oops\n{"a": 3}\n[1, 2]\n{"a": 5}\n');
      await expectSettled(t, r, 'partial');
      expect(data(r)).toEqual([{ a: 1 }, { a: 3 }, { a: 5 }]);
      expect(r.records.map((x) => x.source.row)).toEqual([1, 3, 5]);
      expect(r.job.errors.map((e) => [e.row, e.code])).toEqual([
        [2, 'invalid_json'],
        [4, 'not_an_object'],
      ]);
    });

    it('a record over the item limit is rejected alone; the rest of the file goes on', async () => {
      // The line fits the parser's 400 KiB record limit; with its id and source the item does not.
      const big = `{"id": 2, "blob": "${'x'.repeat(409_500)}"}`;
      const r = await ingest(t, 'big-record.ndjson', `{"id": 1}\n${big}\n{"id": 3}\n`);
      await expectSettled(t, r, 'partial');
      expect(data(r)).toEqual([{ id: 1 }, { id: 3 }]);
      expect(r.job.errors).toEqual([expect.objectContaining({ row: 2, code: 'record_too_large' })]);
    });

    it('a JSON array broken in the middle keeps the elements before it and fails with malformed_json', async () => {
      const r = await ingest(t, 'broken.json', '[{"a": 1}, {"a": 2} {"a": 3}]');
      await expectFailed(t, r, 'malformed_json');
      expect(data(r)).toEqual([{ a: 1 }, { a: 2 }]);
    });

    it.each([
      ['DOCTYPE with an internal entity', Buffer.from('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "expanded">]><r><c>&x;</c></r>')],
      ['billion laughs', fixture('billion-laughs.xml')],
      ['an external entity to /etc/passwd', fixture('xxe.xml')],
    ])('XML with %s fails with xml_doctype_forbidden; nothing is expanded or stored', async (_what, body) => {
      const r = await ingest(t, 'evil.xml', body, 'application/xml');
      await expectFailed(t, r, 'xml_doctype_forbidden');
      expect(r.records).toEqual([]);
      const job = await request(t.app).get(`/v1/projects/${r.p.id}/jobs/${r.job.id}`).set(r.p.auth);
      expect(job.text).not.toMatch(/root:|lollollol|expanded/);
      const all = await request(t.app).get(`/v1/projects/${r.p.id}/records`).query({ limit: 1000 }).set(r.p.auth);
      expect(all.text).not.toMatch(/root:x?:0:0/);
    });

    it.each([
      ['a PNG image', 'photo.png', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), Buffer.alloc(500, 7)])],
      ['binary named .csv', 'fake.csv', Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31) % 256))],
      ['a zip archive', 'data.zip', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(300, 0)])],
      ['text in no known format', 'notes.txt', Buffer.from('just some prose without any delimiter\nand a second line\n')],
    ])('%s fails with unsupported_format and moves to failed/', async (_what, name, body) => {
      const r = await ingest(t, name, body);
      await expectFailed(t, r, 'unsupported_format');
      expect(r.records).toEqual([]);
      const failed = (await bucketObjects(t, r.p, `failed/${r.accepted.fileId}/`)).map((o) => o.key);
      expect(failed).toEqual([r.job.objectKey]);
      expect((await readObject(t, r.p, r.job.objectKey)).equals(body)).toBe(true);
    });

    it('a gzip bomb of zeros under the default limit stops at detection (binary), nothing explodes', async () => {
      const bomb = await gzipOf(generatedStream(200 * 1024 * 1024, (_o, size) => Buffer.alloc(size), 1024 * 1024));
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const r = await ingest(t, 'bomb.csv.gz', bomb);
      await expectFailed(t, r, 'unsupported_format');
      expect(r.records).toEqual([]);
    });
  });
});

describe('gzip bomb with INTAKE_MAX_DECOMPRESSED_BYTES small', () => {
  let t: TestApp;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_MAX_DECOMPRESSED_BYTES: String(32 * 1024) } });
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  it('200 MB of zeros in a small gzip fails with decompressed_too_large', async () => {
    const bomb = await gzipOf(generatedStream(200 * 1024 * 1024, (_o, size) => Buffer.alloc(size), 1024 * 1024));
    const r = await ingest(t, 'bomb.csv.gz', bomb);
    await expectFailed(t, r, 'decompressed_too_large');
    expect(r.records).toEqual([]);
  });

  it('a CSV bomb (valid rows, highly compressible) fails the same way', async () => {
    const row = Buffer.from('0000000001,aaaaaaaaaaaaaaaaaaaa\n');
    const bomb = await gzipOf(
      Readable.from(
        (function* () {
          yield Buffer.from('id,value\n');
          const block = Buffer.concat(Array(2048).fill(row));
          for (let i = 0; i < 200; i++) yield block;
        })(),
      ),
    );
    const r = await ingest(t, 'rows.csv.gz', bomb);
    await expectFailed(t, r, 'decompressed_too_large');
    expect(r.records.length).toBe(r.job.recordsWritten);
  });

  it('a gzip under the limit still succeeds', async () => {
    const r = await ingest(t, 'small.csv.gz', gzipSync('a,b\n1,2\n'));
    await expectSucceeded(t, r, 'csv');
    expect(data(r)).toEqual([{ a: '1', b: '2' }]);
  });
});
