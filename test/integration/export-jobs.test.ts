// Export jobs into the project bucket (POST/GET /v1/projects/{id}/exports) in both storage
// modes: parts of bounded size and a manifest read back from the bucket and over HTTP and
// compared with the records as stored; a job whose worker died is taken over at its next
// part; each refused request checked for its status, its code and that no job was stored.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportJob } from '../../src/export/export-job.js';
import { readAll } from '../support/contract/contract-helpers.js';
import { createProjectWithKey, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const parts: Buffer[] = [];
  res.on('data', (c: Buffer) => parts.push(c));
  res.on('end', () => cb(null, Buffer.concat(parts)));
};

const SAMPLE = [
  '{"name":"Ada","big":12345678901234567890123,"ok":true,"address":{"city":"Zürich"},"tags":["a","b"]}',
  '{"name":"=HYPERLINK(\\"http://evil.example\\",\\"click\\")","note":"line1\\nline2, \\"quoted\\""}',
  '{"name":"Bob","address":{"city":"Paris"},"emoji":"😀"}',
  '{"name":"Cy","n":-5}',
  '{"name":"Di","address":{"city":"Oslo"}}',
];

type JobView = {
  id: string;
  status: string;
  progress: { records: number; bytes: number; parts: number };
  parts: { name: string; records: number; bytes: number; sha256: string; url: string }[];
  manifest: string | null;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
};

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body.error.code).toBe(code);
}

async function waitForJob(t: TestApp, p: TestProject, id: string): Promise<JobView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await request(t.app).get(`/v1/projects/${p.id}/exports/${id}`).set(p.auth);
    expect(res.status).toBe(200);
    if (res.body.status === 'succeeded' || res.body.status === 'failed') return res.body as JobView;
    if (Date.now() > deadline) throw new Error(`export ${id} still ${res.body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const fileOf = async (t: TestApp, url: string, p: TestProject) => {
  const res = await request(t.app).get(url).set(p.auth).buffer(true).parse(binary);
  expect(res.status, url).toBe(200);
  return res.body as Buffer;
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.each(['embedded', 'aws'] as const)('export jobs (%s)', (mode) => {
  let t: TestApp;
  let p: TestProject;
  let ids: string[];

  const start = (project: TestProject, body: unknown) => request(t.app).post(`/v1/projects/${project.id}/exports`).set(project.auth).send(body as object);

  beforeAll(async () => {
    t = await createTestApp({ mode, env: { INTAKE_EXPORT_PART_RECORDS: '2' } });
    p = await createProjectWithKey(t, 'xj');
    const pushed = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/x-ndjson').send(SAMPLE.join('\n'));
    expect(pushed.body.accepted).toBe(SAMPLE.length);
    ids = (pushed.body.records as { id: string }[]).map((r) => r.id).sort();
  });
  afterAll(async () => t?.close());

  it('NDJSON: parts of at most 2 records in the bucket, each record once, a manifest with counts and SHA-256 per part', async () => {
    const res = await start(p, { format: 'ndjson' });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.location).toBe(`/v1/projects/${p.id}/exports/${res.body.id}`);
    expect(res.body.status).toBe('queued');
    const job = await waitForJob(t, p, res.body.id);
    expect(job.status).toBe('succeeded');
    expect(job.progress).toMatchObject({ records: 5, parts: 3 });
    expect(job.parts.map((part) => [part.name, part.records])).toEqual([
      ['part-00000.ndjson', 2],
      ['part-00001.ndjson', 2],
      ['part-00002.ndjson', 1],
    ]);
    const exported: string[] = [];
    for (const part of job.parts) {
      // The object in the bucket and the file served back are the same bytes.
      const stored = await readAll(await t.storage.objects.getStream(p.project.bucketName, `exports/${job.id}/${part.name}`));
      const served = await fileOf(t, part.url, p);
      expect(served.equals(stored)).toBe(true);
      expect(sha256(stored)).toBe(part.sha256);
      expect(stored.length).toBe(part.bytes);
      const lines = stored.toString('utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(part.records);
      for (const line of lines) exported.push((JSON.parse(line) as { id: string }).id);
    }
    expect(exported.sort()).toEqual(ids);
    const all = (await Promise.all(job.parts.map((part) => fileOf(t, part.url, p)))).map((b) => b.toString('utf8')).join('');
    expect(all).toContain('12345678901234567890123');

    const manifest = JSON.parse((await fileOf(t, job.manifest!, p)).toString('utf8'));
    expect(manifest).toMatchObject({ exportId: job.id, projectId: p.id, format: 'ndjson', compression: 'none', records: 5 });
    expect(Date.parse(manifest.snapshotStartedAt)).toBeGreaterThan(0);
    expect(manifest.schema.record).toEqual(['id', 'data', 'source', 'ingestedAt']);
    expect(manifest.parts).toEqual(job.parts.map(({ name, records, bytes, sha256: hash }) => ({ name, key: `exports/${job.id}/${name}`, records, bytes, sha256: hash })));
  });

  it('CSV with gzip and fields: every part a whole CSV with its header, formulas neutralized', async () => {
    const res = await start(p, { format: 'csv', gzip: true, fields: 'name,address.city' });
    expect(res.status, res.text).toBe(202);
    const job = await waitForJob(t, p, res.body.id);
    expect(job.status).toBe('succeeded');
    expect(job.parts.map((part) => part.name)).toEqual(['part-00000.csv.gz', 'part-00001.csv.gz', 'part-00002.csv.gz']);
    const rows: string[][] = [];
    for (const part of job.parts) {
      const gz = await fileOf(t, part.url, p);
      expect(sha256(gz)).toBe(part.sha256);
      const [header, ...body] = parseCsv(gunzipSync(gz).toString('utf8')) as string[][];
      expect(header).toEqual(['id', 'updatedAt', 'name', 'address.city']);
      rows.push(...body);
    }
    expect(rows.map((row) => row[0]).sort()).toEqual(ids);
    expect(rows.map((row) => row[2])).toContain(`'=HYPERLINK("http://evil.example","click")`);
    expect(rows.find((row) => row[2] === 'Ada')?.[3]).toBe('Zürich');
    const manifest = JSON.parse((await fileOf(t, job.manifest!, p)).toString('utf8'));
    expect(manifest).toMatchObject({ format: 'csv', compression: 'gzip', schema: { columns: ['id', 'updatedAt', 'name', 'address.city'] } });
  });

  it('an empty project: one CSV part that holds the header only, and a manifest of 0 records', async () => {
    const empty = await createProjectWithKey(t, 'xj-empty');
    const res = await start(empty, { format: 'csv' });
    const job = await waitForJob(t, empty, res.body.id);
    expect(job).toMatchObject({ status: 'succeeded', progress: { records: 0, parts: 1 } });
    expect((await fileOf(t, job.parts[0]!.url, empty)).toString('utf8')).toBe('id,updatedAt\r\n');
    expect(JSON.parse((await fileOf(t, job.manifest!, empty)).toString('utf8')).records).toBe(0);
  });

  it('since: only the records written from then on', async () => {
    const feed = await createProjectWithKey(t, 'xj-since');
    await request(t.app).post(`/v1/projects/${feed.id}/records`).set(feed.auth).send({ n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date().toISOString();
    const later = await request(t.app).post(`/v1/projects/${feed.id}/records`).set(feed.auth).send([{ n: 2 }, { n: 3 }, { n: 4 }]);
    const job = await waitForJob(t, feed, (await start(feed, { format: 'ndjson', since })).body.id);
    const exported = (await Promise.all(job.parts.map((part) => fileOf(t, part.url, feed))))
      .flatMap((b) => b.toString('utf8').trimEnd().split('\n'))
      .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(exported.sort()).toEqual((later.body.records as { id: string }[]).map((r) => r.id).sort());
  });

  it('two export jobs at once on one project: the second waits queued and starts once the first has finished', async () => {
    const [a, b] = await Promise.all([start(p, { format: 'ndjson' }), start(p, { format: 'csv' })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const [first, second] = [await waitForJob(t, p, a.body.id), await waitForJob(t, p, b.body.id)];
    const [earlier, later] = first.id < second.id ? [first, second] : [second, first];
    expect([earlier.status, later.status]).toEqual(['succeeded', 'succeeded']);
    expect(Date.parse(later.startedAt!)).toBeGreaterThanOrEqual(Date.parse(earlier.finishedAt!));
    expect(later.progress.records).toBe(5);
    const listed = await request(t.app).get(`/v1/projects/${p.id}/exports`).query({ limit: 2 }).set(p.auth);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((job: JobView) => job.id)).toEqual([later.id, earlier.id]);
    expect(listed.body.nextCursor).toEqual(expect.any(String));
  });

  it('a job whose worker died after its first part is taken over and resumes at the next part: each record once', async () => {
    const project = (await t.storage.control.getProject(p.id))!;
    const store = t.storage.control.exports;
    const at = new Date().toISOString();
    const job: ExportJob = { id: `01J${'0'.repeat(23)}`, projectId: p.id, format: 'ndjson', gzip: false, status: 'queued', records: 0, bytes: 0, parts: [], attempts: 0, createdAt: at, updatedAt: at };
    await store.createExport(job);
    // A worker that wrote part-00000 (records 1 and 2), checkpointed it, and died.
    const dead = (await store.claimExport(p.id, job.id, 'dead-task', 60_000, Date.now()))!;
    const first = await request(t.app).get(`/v1/projects/${p.id}/records`).query({ limit: 2 }).set(p.auth);
    const firstIds = (first.body.items as { id: string }[]).map((r) => r.id);
    const text = (first.body.items as unknown[]).map((r) => `${JSON.stringify(r)}\n`).join('');
    await t.storage.objects.putStream(project.bucketName, `exports/${job.id}/part-00000.ndjson`, Readable.from([Buffer.from(text)]));
    const part = { name: 'part-00000.ndjson', key: `exports/${job.id}/part-00000.ndjson`, records: 2, bytes: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)) };
    expect(await store.saveExport({ ...dead, parts: [part], records: 2, bytes: part.bytes, resumeAfter: firstIds[1] }, 'dead-task', 1, Date.now())).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    t.services.exportJobs.resume(project);
    const done = await waitForJob(t, p, job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, progress: { records: 5, parts: 3 } });
    expect(done.parts[0]).toMatchObject({ sha256: part.sha256 });
    const exported = (await Promise.all(done.parts.map((x) => fileOf(t, x.url, p))))
      .flatMap((b) => b.toString('utf8').trimEnd().split('\n'))
      .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(exported.sort()).toEqual(ids);
  });

  it('a project deletion removes its export jobs with its bucket: a new project of the same id starts with none', async () => {
    const doomed = await createProjectWithKey(t, 'xj-del');
    await request(t.app).post(`/v1/projects/${doomed.id}/records`).set(doomed.auth).send({ n: 1 });
    const job = await waitForJob(t, doomed, (await start(doomed, { format: 'ndjson' })).body.id);
    expect(job.status).toBe('succeeded');
    expect((await request(t.app).delete(`/v1/projects/${doomed.id}`).query({ confirm: doomed.id }).set(t.admin)).status).toBe(202);
    const deadline = Date.now() + 20_000;
    while ((await request(t.app).get(`/v1/projects/${doomed.id}`).set(t.admin)).status !== 404) {
      if (Date.now() > deadline) throw new Error('project not deleted in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await t.storage.control.exports.listExports(doomed.id, { limit: 10 })).items).toEqual([]);
    const again = await request(t.app).post('/v1/projects').set(t.admin).send({ id: doomed.id, name: doomed.id });
    expect(again.status).toBe(201);
    expect((await request(t.app).get(`/v1/projects/${doomed.id}/exports/${job.id}`).set(t.admin)).body.error.code).toBe('export_not_found');
  });

  describe('bad input: answered with its code, and no job stored', () => {
    let q: TestProject;
    beforeAll(async () => {
      q = await createProjectWithKey(t, 'xj-bad');
    });
    const noJobs = async () => {
      const listed = await request(t.app).get(`/v1/projects/${q.id}/exports`).set(q.auth);
      expect(listed.status).toBe(200);
      expect(listed.body.items).toEqual([]);
    };

    it.each([
      [{ format: 'xlsx' }, 400, 'unknown_format'],
      [{ format: 'json' }, 400, 'unknown_format'],
      [{}, 400, 'validation_failed'],
      [{ format: 'csv', fields: '' }, 400, 'invalid_fields'],
      [{ format: 'csv', fields: 'a..b' }, 400, 'invalid_fields'],
      [{ format: 'csv', fields: ['name', ''] }, 400, 'invalid_fields'],
      [{ format: 'ndjson', since: 'yesterday' }, 400, 'invalid_since'],
      [{ format: 'ndjson', since: '2026-02-30' }, 400, 'invalid_since'],
      [{ format: 'ndjson', gzip: 'yes' }, 400, 'validation_failed'],
      [{ format: 'ndjson', where: { a: 1 } }, 400, 'validation_failed'],
    ])('%j → %i %s', async (body, status, code) => {
      expectError(await start(q, body), status, code);
      await noJobs();
    });

    it('a key without records:read is refused, and starts nothing', async () => {
      const writeOnly = await request(t.app).post(`/v1/projects/${q.id}/keys`).set(t.admin).send({ name: 'push-only', scopes: ['records:write'] });
      const auth = { 'X-API-Key': writeOnly.body.key as string };
      expectError(await request(t.app).post(`/v1/projects/${q.id}/exports`).set(auth).send({ format: 'ndjson' }), 403, 'insufficient_scope');
      expectError(await request(t.app).get(`/v1/projects/${q.id}/exports`).set(auth), 403, 'insufficient_scope');
      await noJobs();
    });

    it('an unknown export, a part it does not have, and a path outside it are 404', async () => {
      expectError(await request(t.app).get(`/v1/projects/${q.id}/exports/01JNOPE`).set(q.auth), 404, 'export_not_found');
      const job = await waitForJob(t, q, (await start(q, { format: 'ndjson' })).body.id);
      expect(job.manifest).not.toBeNull();
      const files = `/v1/projects/${q.id}/exports/${job.id}/files`;
      expectError(await request(t.app).get(`${files}/part-00001.ndjson`).set(q.auth), 404, 'export_file_not_found');
      expectError(await request(t.app).get(`${files}/..%2F..%2Fincoming`).set(q.auth), 404, 'export_file_not_found');
      // Another project's key cannot read this project's exports.
      expect((await request(t.app).get(`${files}/part-00000.ndjson`).set(p.auth)).status).toBe(403);
    });
  });
});
