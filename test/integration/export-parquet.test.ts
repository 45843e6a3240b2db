// Parquet export jobs in both storage modes: the parts are downloaded over HTTP and read
// back with DuckDB, and their rows compared with the records as stored: typed columns
// (strings, doubles, booleans, the dates the model casts), nested values as JSON text, the
// record envelope, a 300 KB string, and an empty project's file with a schema and no rows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectWithKey, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const parts: Buffer[] = [];
  res.on('data', (c: Buffer) => parts.push(c));
  res.on('end', () => cb(null, Buffer.concat(parts)));
};

const LONG = 'x'.repeat(300 * 1024);
const SAMPLE = [
  { name: 'Ada', score: 1.5, ok: true, signup: '02/01/2024', address: { city: 'Zürich' }, tags: ['a', 'b'] },
  { name: '=HYPERLINK("x")', score: 1234567890123456800, ok: false, mixed: 1 },
  { name: 'Bob', score: -3, signup: '31/12/1999', mixed: 'one', note: LONG },
  { name: 'Cy', ok: null },
];

type JobView = { id: string; status: string; format: string; gzip: boolean; parts: { name: string; records: number; url: string }[]; manifest: string | null };

describe.each(['embedded', 'aws'] as const)('parquet export jobs (%s)', (mode) => {
  let t: TestApp;
  let p: TestProject;
  let dir: string;
  let duck: DuckDBConnection;

  async function waitForJob(project: TestProject, id: string): Promise<JobView> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await request(t.app).get(`/v1/projects/${project.id}/exports/${id}`).set(project.auth);
      expect(res.status).toBe(200);
      if (res.body.status === 'succeeded' || res.body.status === 'failed') return res.body as JobView;
      if (Date.now() > deadline) throw new Error(`export ${id} still ${res.body.status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Runs a Parquet export job to its end; the parts saved to disk for DuckDB, and the manifest. */
  async function exportParquet(project: TestProject, body: object = {}) {
    const res = await request(t.app).post(`/v1/projects/${project.id}/exports`).set(project.auth).send({ format: 'parquet', ...body });
    expect(res.status, res.text).toBe(202);
    const job = await waitForJob(project, res.body.id as string);
    expect(job.status).toBe('succeeded');
    const files: string[] = [];
    for (const part of job.parts) {
      const got = await request(t.app).get(part.url).set(project.auth).buffer(true).parse(binary);
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toBe('application/vnd.apache.parquet');
      const file = join(dir, `${job.id}-${part.name}`);
      await writeFile(file, got.body as Buffer);
      files.push(file);
    }
    const manifest = await request(t.app).get(job.manifest!).set(project.auth);
    return { job, files, manifest: JSON.parse(manifest.text) as Record<string, unknown> };
  }

  // Paths we made ourselves (no quotes in them), spliced into the query as a list literal.
  const rowsOf = async (files: string[], sql = 'SELECT * FROM read_parquet($files) ORDER BY id') =>
    (await duck.runAndReadAll(sql.replace('$files', `[${files.map((f) => `'${f}'`).join(',')}]`))).getRowObjectsJS();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-parquet-'));
    duck = await (await DuckDBInstance.create(':memory:')).connect();
    t = await createTestApp({ mode, env: { INTAKE_EXPORT_PART_RECORDS: '3' } });
    p = await createProjectWithKey(t, 'xp');
    const model = await request(t.app)
      .put(`/v1/projects/${p.id}/model`)
      .set(t.admin)
      .send({ rules: [{ op: 'cast', field: 'signup', to: 'date', formats: ['dd/MM/yyyy'] }] });
    expect(model.status, model.text).toBe(200);
    // Sent as text so that the big number keeps the digits a double would lose.
    const body = JSON.stringify(SAMPLE).replace('"score":1234567890123456800', '"score":12345678901234567891');
    const pushed = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/json').send(body);
    expect(pushed.body.accepted, pushed.text).toBe(SAMPLE.length);
  });
  afterAll(async () => {
    duck?.closeSync();
    await t?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('writes typed columns that DuckDB reads back equal to the stored records, in parts of bounded size', async () => {
    const { job, files, manifest } = await exportParquet(p, { gzip: true });
    // Parquet compresses inside the file: gzip is not applied to it.
    expect(job.gzip).toBe(false);
    expect(job.parts.map((part) => [part.name, part.records])).toEqual([
      ['part-00000.parquet', 3],
      ['part-00001.parquet', 1],
    ]);
    const stored = await request(t.app).get(`/v1/projects/${p.id}/records?limit=100`).set(p.auth);
    const records = (stored.body.items as { id: string; data: Record<string, unknown>; source: unknown; ingestedAt: string }[]).sort((a, b) =>
      a.id < b.id ? -1 : 1,
    );
    const rows = await rowsOf(files);
    expect(rows.length).toBe(records.length);
    const types = Object.fromEntries((await rowsOf(files, 'DESCRIBE SELECT * FROM read_parquet($files)')).map((r) => [r.column_name, r.column_type]));
    expect(types).toMatchObject({ id: 'VARCHAR', ingestedAt: 'TIMESTAMP', source: 'VARCHAR', name: 'VARCHAR', score: 'DOUBLE', ok: 'BOOLEAN', signup: 'DATE', address: 'VARCHAR', tags: 'VARCHAR', mixed: 'VARCHAR', note: 'VARCHAR' });
    rows.forEach((row, i) => {
      const record = records[i]!;
      const data = record.data;
      expect(row.id).toBe(record.id);
      expect((row.ingestedAt as Date).toISOString()).toBe(new Date(record.ingestedAt).toISOString());
      expect(JSON.parse(row.source as string)).toEqual(record.source);
      expect(row.name).toBe(data.name);
      expect(row.score).toBe(data.score ?? null);
      expect(row.ok).toBe(data.ok ?? null);
      expect(row.address).toBe(data.address === undefined ? null : JSON.stringify(data.address));
      expect(row.tags).toBe(data.tags === undefined ? null : JSON.stringify(data.tags));
      expect(row.mixed).toBe(data.mixed === undefined ? null : JSON.stringify(data.mixed));
      expect(row.note).toBe(data.note ?? null);
      // The model cast signup to an ISO date; DuckDB reads a DATE.
      if (data.signup === undefined) expect(row.signup).toBeNull();
      else expect((row.signup as Date).toISOString().slice(0, 10)).toBe(data.signup);
    });
    expect((rows.find((row) => row.name === 'Bob')!.note as string).length).toBe(LONG.length);
    const schema = (manifest.schema as { parquet: { name: string; kind: string }[] }).parquet;
    expect(schema.find((c) => c.name === 'signup')).toMatchObject({ kind: 'date', type: 'INT32', convertedType: 'DATE' });
    expect(schema.find((c) => c.name === 'score')).toMatchObject({ kind: 'double', type: 'DOUBLE' });
    // 12345678901234567891 is past 2^53: rounded to a double, and counted.
    expect(manifest.conversions).toEqual({ roundedNumbers: 1, unconverted: 0 });
    expect(manifest.records).toBe(records.length);
  });

  it('exports the chosen fields only, by dot path', async () => {
    const { files } = await exportParquet(p, { fields: 'name,address.city' });
    const rows = await rowsOf(files);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'ingestedAt', 'source', 'name', 'address.city']);
    expect(rows.map((row) => row['address.city'])).toContain('Zürich');
  });

  it('the streamed export does not write Parquet (export jobs do): 400 unknown_format, nothing sent', async () => {
    const res = await request(t.app).get(`/v1/projects/${p.id}/export?format=parquet`).set(p.auth);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_format');
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('an empty project gives one valid Parquet file with the envelope schema and no rows', async () => {
    const empty = await createProjectWithKey(t, 'xpe');
    const { job, files, manifest } = await exportParquet(empty);
    expect(job.parts.map((part) => [part.name, part.records])).toEqual([['part-00000.parquet', 0]]);
    expect(await rowsOf(files, 'SELECT count(*)::INTEGER AS n FROM read_parquet($files)')).toEqual([{ n: 0 }]);
    const columns = (await rowsOf(files, 'DESCRIBE SELECT * FROM read_parquet($files)')).map((r) => r.column_name);
    expect(columns).toEqual(['id', 'ingestedAt', 'source']);
    expect(manifest.records).toBe(0);
  });
});
