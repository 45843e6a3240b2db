// The same file uploaded twice: a second upload of content the project already ingested
// ends at once without writing rows and says which file and job it repeats; ?force=true
// ingests it again. Both modes, through the raw and the multipart route.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJob } from '../../src/ingest/jobs.js';
import type { Poller } from '../../src/ingest/poller.js';
import {
  apiRecords,
  bucketObjects,
  createPoller,
  createProjectWithKey,
  listJobs,
  multipartBody,
  uploadFile,
  waitForJob,
  type TestProject,
} from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');
const CSV = 'id,name\n1,Ada\n2,Grace\n';

/**
 * A settle time longer than an upload takes here: the upload route, not the poller, creates
 * each job, with the SHA-256 it computed (the race the other way round has its own test).
 */
const SETTLE_MS = 3000;

describe.each(['embedded', 'aws'] as const)('same file uploaded twice (%s)', (mode) => {
  let t: TestApp;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ mode });
    poller = createPoller(t, { settleMs: SETTLE_MS });
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  async function ingestedOnce(p: TestProject, body = CSV) {
    const first = await uploadFile(t, p, 'customers.csv', body);
    const job = await waitForJob(t, p, first.jobId);
    expect(job.status).toBe('succeeded');
    return first;
  }

  it('ends the second upload without writing rows, naming the file and job it repeats', async () => {
    const p = await createProjectWithKey(t);
    const first = await ingestedOnce(p);
    const second = await uploadFile(t, p, 'customers-again.csv', CSV);
    expect(second.fileId).not.toBe(first.fileId);
    const job = (await waitForJob(t, p, second.jobId)) as Awaited<ReturnType<typeof waitForJob>> & Record<string, unknown>;
    expect(job).toMatchObject({ status: 'succeeded', rowsRead: 0, recordsWritten: 0, rowsRejected: 0, sha256: sha256(CSV) });
    expect(job.duplicateOf).toEqual({ fileId: first.fileId, jobId: first.jobId });
    expect(job.notices).toEqual([expect.stringContaining(`file ${first.fileId}, already ingested by job ${first.jobId}`)]);
    // Storage: the first file's two records and no more; the repeat kept under processed/.
    expect(await apiRecords(t, p)).toHaveLength(2);
    const objects = (await bucketObjects(t, p)).map((o) => o.key);
    expect(objects).toContain(`processed/${second.fileId}/customers-again.csv`);
    expect(objects.filter((k) => k.startsWith('incoming/'))).toEqual([]);
    // The original job says nothing of a duplicate.
    const original = (await request(t.app).get(`/v1/projects/${p.id}/jobs/${first.jobId}`).set(p.auth)).body;
    expect(original.duplicateOf).toBeNull();
  });

  it('the multipart route finds the repeat too', async () => {
    const p = await createProjectWithKey(t);
    const first = await ingestedOnce(p);
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'again.csv', data: CSV }]);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).set('Content-Type', contentType).send(body);
    expect(res.status).toBe(202);
    const job = (await waitForJob(t, p, res.body.jobId as string)) as unknown as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 0, duplicateOf: { fileId: first.fileId, jobId: first.jobId } });
    expect(await apiRecords(t, p)).toHaveLength(2);
  });

  it('?force=true ingests the same content again, as a file of its own', async () => {
    const p = await createProjectWithKey(t);
    await ingestedOnce(p);
    const res = await request(t.app)
      .put(`/v1/projects/${p.id}/files/forced.csv`)
      .query({ force: 'true' })
      .set(p.auth)
      .set('Content-Type', 'text/csv')
      .send(CSV);
    expect(res.status).toBe(202);
    const job = (await waitForJob(t, p, res.body.jobId as string)) as unknown as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 2, duplicateOf: null });
    expect(job.notices).not.toContainEqual(expect.stringContaining('Same content'));
    // Row ids derive from the file: an unkeyed project now holds both files' rows.
    expect(await apiRecords(t, p)).toHaveLength(4);
    // force=false is the default behaviour: a duplicate.
    const again = await request(t.app)
      .put(`/v1/projects/${p.id}/files/again.csv`)
      .query({ force: 'false' })
      .set(p.auth)
      .set('Content-Type', 'text/csv')
      .send(CSV);
    expect(again.status).toBe(202);
    expect(((await waitForJob(t, p, again.body.jobId as string)) as unknown as Record<string, unknown>).duplicateOf).not.toBeNull();
    expect(await apiRecords(t, p)).toHaveLength(4);
  });

  it('refuses force values that are not strictly true or false with 400, storing nothing', async () => {
    const p = await createProjectWithKey(t);
    for (const force of ['notabool', '1', 'TRUE', '']) {
      const put = await request(t.app)
        .put(`/v1/projects/${p.id}/files/bad.csv`)
        .query({ force })
        .set(p.auth)
        .set('Content-Type', 'text/csv')
        .send(CSV);
      expect(put.status, force).toBe(400);
      expect(put.body.error.code).toBe('validation_failed');
      expect(put.body.error.message).toContain('force');
    }
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'bad.csv', data: CSV }]);
    const multi = await request(t.app).post(`/v1/projects/${p.id}/files?force=notabool`).set(p.auth).set('Content-Type', contentType).send(body);
    expect(multi.status).toBe(400);
    expect(multi.body.error.code).toBe('validation_failed');
    // Twice the flag is an array, not a boolean.
    const twice = await request(t.app).put(`/v1/projects/${p.id}/files/bad.csv?force=true&force=true`).set(p.auth).set('Content-Type', 'text/csv').send(CSV);
    expect(twice.status).toBe(400);
    expect(twice.body.error.code).toBe('validation_failed');
    expect(await bucketObjects(t, p)).toEqual([]);
    expect(await listJobs(t, p)).toEqual([]);
    expect(await apiRecords(t, p)).toEqual([]);
  });

  it('a file whose job failed does not count as ingested: the same bytes run again', async () => {
    const p = await createProjectWithKey(t);
    const broken = '{"id":1\n{"id":2\n';
    const first = await uploadFile(t, p, 'broken.ndjson', broken);
    expect((await waitForJob(t, p, first.jobId)).status).toBe('failed');
    const second = await uploadFile(t, p, 'broken.ndjson', broken);
    const job = (await waitForJob(t, p, second.jobId)) as unknown as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'failed', duplicateOf: null });
    expect(job.rowsRead).toBeGreaterThan(0);
  });

  it('a partial job counts as ingested', async () => {
    const p = await createProjectWithKey(t);
    const mixed = '{"id":1}\nnot json\n{"id":3}\n';
    const first = await uploadFile(t, p, 'mixed.ndjson', mixed);
    expect((await waitForJob(t, p, first.jobId)).status).toBe('partial');
    const second = await uploadFile(t, p, 'mixed.ndjson', mixed);
    const job = (await waitForJob(t, p, second.jobId)) as unknown as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 0, rowsRejected: 0, duplicateOf: { fileId: first.fileId, jobId: first.jobId } });
    expect(await apiRecords(t, p)).toHaveLength(2);
  });

  it('when a poller created the job first, the upload still finishes it as a duplicate', async () => {
    const p = await createProjectWithKey(t);
    const first = await ingestedOnce(p);
    await poller.stop();
    try {
      // What a poller does when it lists the object before the upload route queued its job:
      // a queued job without the checksum.
      const stored = await t.services.uploads.store({ project: p.project, fileName: 'raced.csv', body: bodyOf(CSV) });
      await t.storage.control.createJob(
        newJob(p.project, { key: stored.key, etag: stored.etag, size: stored.size, fileName: stored.fileName }),
      );
      const received = await t.services.uploads.queue(p.project, stored);
      const job = await t.storage.control.getJob(p.id, received.jobId);
      expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 0, duplicateOf: { fileId: first.fileId, jobId: first.jobId } });
      expect(job?.leaseOwner).toBeUndefined();
      expect((await bucketObjects(t, p, 'incoming/')).map((o) => o.key)).toEqual([]);
      expect(await apiRecords(t, p)).toHaveLength(2);
    } finally {
      poller = createPoller(t, { settleMs: SETTLE_MS });
      poller.start();
    }
  });
});

function bodyOf(text: string) {
  return Readable.from([Buffer.from(text)]);
}
