// Reading back what was uploaded: the files list, downloading the original bytes and the
// job's full NDJSON error report, in both modes, with the bad inputs the API refuses.
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import { bucketObjects, createPoller, createProjectWithKey, listJobs, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

async function keyWith(t: TestApp, p: TestProject, scopes: string[]): Promise<{ 'X-API-Key': string }> {
  const res = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: scopes.join(' ') || 'none', scopes });
  expect(res.status).toBe(201);
  return { 'X-API-Key': res.body.key as string };
}

/** Raw response bytes (supertest parses JSON and text otherwise). */
function binary(req: request.Test): request.Test {
  return req.buffer(true).parse((res, done) => {
    const parts: Buffer[] = [];
    res.on('data', (chunk: Buffer) => parts.push(chunk));
    res.on('end', () => done(null, Buffer.concat(parts)));
  });
}

describe.each(['embedded', 'aws'] as const)('files read back (%s)', (mode) => {
  let t: TestApp;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ mode });
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  /** Runs `check` while no poller runs (a stopped poller cannot start again: a new one takes over). */
  async function withoutPoller(check: () => Promise<void>): Promise<void> {
    await poller.stop();
    try {
      await check();
    } finally {
      poller = createPoller(t);
      poller.start();
    }
  }

  it('lists uploads newest first with name, size, SHA-256, status and job, paged by cursor', async () => {
    const p = await createProjectWithKey(t);
    const bodies = ['id,n\n1,a\n', 'id,n\n1,a\n2,b\n', '{"id":1}\n{"id":2}\n{"id":3}\n'];
    const names = ['first.csv', 'second.csv', 'third.ndjson'];
    const uploads = [];
    for (let i = 0; i < 3; i++) uploads.push(await uploadFile(t, p, names[i]!, bodies[i]!));
    for (const u of uploads) await waitForJob(t, p, u.jobId);

    const first = await request(t.app).get(`/v1/projects/${p.id}/files`).query({ limit: 2 }).set(p.auth);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await request(t.app).get(`/v1/projects/${p.id}/files`).query({ limit: 2, cursor: first.body.nextCursor as string }).set(p.auth);
    expect(second.status).toBe(200);
    const items = [...first.body.items, ...second.body.items] as Record<string, unknown>[];
    expect(items.map((f) => f.fileName)).toEqual(['third.ndjson', 'second.csv', 'first.csv']);
    expect(items[2]).toEqual({
      fileId: uploads[0]!.fileId,
      fileName: 'first.csv',
      size: Buffer.byteLength(bodies[0]!),
      // A poller that finds the object before the upload route queued its job makes the job
      // first, without the checksum the upload computed.
      sha256: expect.toBeOneOf([sha256(bodies[0]!), null]),
      contentType: 'application/octet-stream',
      status: 'succeeded',
      jobId: uploads[0]!.jobId,
      location: 'processed',
      expired: false,
      download: `/v1/projects/${p.id}/files/${uploads[0]!.fileId}`,
      uploadedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
  });

  it('downloads the original bytes with its type, length and the original name safely encoded', async () => {
    const p = await createProjectWithKey(t);
    const name = 'Kunden "März" ünïcödé.csv';
    const body = Buffer.from('id,name\n1,Zoë\n2,Ærøskøbing\n');
    const up = await uploadFile(t, p, name, body, 'text/csv');
    await waitForJob(t, p, up.jobId);
    const res = await binary(request(t.app).get(`/v1/projects/${p.id}/files/${up.fileId}`).set(p.auth));
    expect(res.status).toBe(200);
    expect((res.body as Buffer).equals(body)).toBe(true);
    expect(res.headers['content-type']).toBe('text/csv');
    expect(res.headers['content-length']).toBe(String(body.length));
    const disposition = res.headers['content-disposition'] as string;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe(name);
  });

  it('downloads a file that is still incoming (no poller has taken it yet)', async () => {
    const p = await createProjectWithKey(t);
    await withoutPoller(async () => {
      const up = await uploadFile(t, p, 'waiting.bin', Buffer.from([0, 1, 2, 255]));
      const res = await binary(request(t.app).get(`/v1/projects/${p.id}/files/${up.fileId}`).set(p.auth));
      expect(res.status).toBe(200);
      expect([...(res.body as Buffer)]).toEqual([0, 1, 2, 255]);
      const list = await request(t.app).get(`/v1/projects/${p.id}/files`).set(p.auth);
      // Uploaded through the API with no poller about: the upload made the job, with the checksum.
      expect(list.body.items[0]).toMatchObject({ fileId: up.fileId, status: 'queued', location: 'incoming', sha256: sha256(Buffer.from([0, 1, 2, 255])) });
    });
  });

  it('streams the full NDJSON error report; a job without row errors has an empty one', async () => {
    const p = await createProjectWithKey(t);
    const rows = ['{"id":0}'];
    for (let i = 1; i <= 300; i++) rows.push(i % 2 === 0 ? `{"id":${i}}` : `{"id":${i},`);
    const bad = await uploadFile(t, p, 'bad.ndjson', rows.join('\n') + '\n');
    const job = await waitForJob(t, p, bad.jobId);
    expect(job.status).toBe('partial');
    expect(job.rowsRejected).toBe(150);
    const res = await request(t.app).get(`/v1/projects/${p.id}/jobs/${bad.jobId}/errors`).set(p.auth).buffer(true);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = (res.text).trim().split('\n').map((l) => JSON.parse(l) as { row: number; code: string });
    // Every error, not only the first ones the job keeps inline.
    expect(lines).toHaveLength(150);
    expect(job.errors.length).toBeLessThan(150);
    expect(lines[0]).toMatchObject({ row: expect.any(Number), code: expect.any(String) });

    const good = await uploadFile(t, p, 'good.ndjson', '{"id":1}\n');
    await waitForJob(t, p, good.jobId);
    const empty = await request(t.app).get(`/v1/projects/${p.id}/jobs/${good.jobId}/errors`).set(p.auth).buffer(true);
    expect(empty.status).toBe(200);
    expect(empty.headers['content-length']).toBe('0');
    expect(empty.text).toBe('');
  });

  describe('bad inputs', () => {
    let p: TestProject;
    let other: TestProject;
    let file: { fileId: string; jobId: string };
    beforeAll(async () => {
      p = await createProjectWithKey(t);
      other = await createProjectWithKey(t);
      file = await uploadFile(t, p, 'mine.csv', 'id\n1\n');
      await waitForJob(t, p, file.jobId);
    });

    async function expectUnchanged() {
      const jobs = await listJobs(t, p);
      expect(jobs.map((j) => j.id)).toEqual([file.jobId]);
      expect((await bucketObjects(t, p, 'processed/')).map((o) => o.key)).toEqual([`processed/${file.fileId}/mine.csv`]);
    }

    it('unknown fileId: 404 file_not_found', async () => {
      for (const id of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'x'.repeat(300), '..%2F..%2Fetc', 'a%2Fb']) {
        const res = await request(t.app).get(`/v1/projects/${p.id}/files/${id}`).set(p.auth);
        expect(res.status, id).toBe(404);
        expect(res.body.error.code).toBe('file_not_found');
      }
      await expectUnchanged();
    });

    it("another project's fileId: 404 file_not_found, nothing of the file leaks", async () => {
      const res = await request(t.app).get(`/v1/projects/${other.id}/files/${file.fileId}`).set(other.auth);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('file_not_found');
      expect(JSON.stringify(res.body)).not.toContain('mine.csv');
      const list = await request(t.app).get(`/v1/projects/${other.id}/files`).set(other.auth);
      expect(list.body).toEqual({ items: [], nextCursor: null });
      // The other project's key cannot reach this project's files either.
      const cross = await request(t.app).get(`/v1/projects/${p.id}/files/${file.fileId}`).set(other.auth);
      expect(cross.status).toBe(403);
      expect(cross.body.error.code).toBe('key_not_for_project');
      await expectUnchanged();
    });

    it('a key without the needed scope: 403 insufficient_scope', async () => {
      const writeOnly = await keyWith(t, p, ['files:write']);
      const pushOnly = await keyWith(t, p, ['records:write']);
      // An uploading key may list and follow its uploads, but not read customers' rows back.
      expect((await request(t.app).get(`/v1/projects/${p.id}/files`).set(writeOnly)).status).toBe(200);
      expect((await request(t.app).get(`/v1/projects/${p.id}/jobs/${file.jobId}/errors`).set(writeOnly)).status).toBe(200);
      const download = await request(t.app).get(`/v1/projects/${p.id}/files/${file.fileId}`).set(writeOnly);
      expect(download.status).toBe(403);
      expect(download.body.error.code).toBe('insufficient_scope');
      for (const path of ['files', `files/${file.fileId}`, `jobs/${file.jobId}/errors`]) {
        const res = await request(t.app).get(`/v1/projects/${p.id}/${path}`).set(pushOnly);
        expect(res.status, path).toBe(403);
        expect(res.body.error.code).toBe('insufficient_scope');
      }
      await expectUnchanged();
    });

    it('a jobId with no report: 404 job_not_found for an unknown job, error_report_not_ready while queued', async () => {
      const unknown = await request(t.app).get(`/v1/projects/${p.id}/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/errors`).set(p.auth);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('job_not_found');
      const foreign = await request(t.app).get(`/v1/projects/${other.id}/jobs/${file.jobId}/errors`).set(other.auth);
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('job_not_found');
      await withoutPoller(async () => {
        const queued = await uploadFile(t, other, 'later.csv', 'id\n1\n');
        const res = await request(t.app).get(`/v1/projects/${other.id}/jobs/${queued.jobId}/errors`).set(other.auth);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('error_report_not_ready');
        expect((await listJobs(t, other)).map((j) => j.status)).toEqual(['queued']);
      });
      await expectUnchanged();
    });

    it('a bad pagination cursor or limit: 400', async () => {
      const bad = await request(t.app).get(`/v1/projects/${p.id}/files`).query({ cursor: 'not-a-cursor' }).set(p.auth);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_cursor');
      // A genuine cursor of another listing (the jobs list, another project's files) is refused too.
      for (const scope of [`jobs:${p.id}`, `files:${other.id}`]) {
        const cursor = t.services.cursors.encode(scope, `${new Date().toISOString()}|${file.jobId}`);
        const res = await request(t.app).get(`/v1/projects/${p.id}/files`).query({ cursor }).set(p.auth);
        expect(res.status, scope).toBe(400);
        expect(res.body.error.code).toBe('invalid_cursor');
      }
      const limit = await request(t.app).get(`/v1/projects/${p.id}/files`).query({ limit: 0 }).set(p.auth);
      expect(limit.status).toBe(400);
      expect(limit.body.error.code).toBe('invalid_limit');
      await expectUnchanged();
    });

    it('unknown query parameters: 400 unknown_parameter', async () => {
      for (const path of ['files', `files/${file.fileId}`, `jobs/${file.jobId}/errors`]) {
        const res = await request(t.app).get(`/v1/projects/${p.id}/${path}`).query({ status: 'failed' }).set(p.auth);
        expect(res.status, path).toBe(400);
        expect(res.body.error.code).toBe('unknown_parameter');
      }
      await expectUnchanged();
    });
  });
});
