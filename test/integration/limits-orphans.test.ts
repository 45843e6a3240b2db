// Orphaned jobs: a queued job whose object no longer exists is failed `object_missing` by
// the poller once it is past the grace period, never left queued; a young one, a job whose
// object is there, and jobs without objects (backfills) are left alone. Both modes.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJob } from '../../src/ingest/jobs.js';
import { createProjectWithKey, createPoller, storedRecords, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const GRACE_MS = 60_000;

async function jobOf(t: TestApp, p: TestProject, jobId: string) {
  const res = await request(t.app).get(`/v1/projects/${p.id}/jobs/${jobId}`).set(p.auth);
  expect(res.status).toBe(200);
  return res.body as { status: string; failure: { code: string; message: string } | null; recordsWritten: number; finishedAt: string | null };
}

for (const mode of ['aws', 'embedded'] as const) {
  describe(`orphaned jobs (${mode})`, () => {
    let t: TestApp;
    let p: TestProject;
    beforeAll(async () => {
      t = await createTestApp({ mode });
      p = await createProjectWithKey(t, 'orph');
    });
    afterAll(() => t.close());

    it('fails a queued job whose object is gone once it is past the grace period, and only such a job', async () => {
      // A job creation that succeeded although the request failed, and whose object was then
      // discarded: the job exists, queued, with nothing under its key. Created past the grace.
      const longAgo = new Date(Date.now() - 2 * GRACE_MS);
      const old = await t.storage.control.createJob(
        newJob(p.project, { key: 'incoming/01JD2V3X4Y5Z6A7B8C9D0E1F2G/lost.csv', etag: '"lost"', size: 12, fileName: 'lost.csv' }, longAgo),
      );
      // A multipart request refused after its file part was stored: uploaded, then discarded.
      const young = await uploadFile(t, p, 'young.csv', 'a,b\n1,2\n', 'text/csv');
      const youngJob = await t.storage.control.getJob(p.id, young.jobId);
      await t.storage.objects.delete(p.project.bucketName, youngJob!.objectKey);
      // A healthy upload: its object is there, and it is ingested as ever.
      const healthy = await uploadFile(t, p, 'healthy.csv', 'a,b\n3,4\n5,6\n', 'text/csv');
      // An index backfill's job has no object at all; the sweep is not its business.
      const backfill = await t.storage.control.createJob({ ...newJob(p.project, { key: '', etag: 'model-v1', size: 0, fileName: '(index backfill)' }, longAgo), id: 'backfill-job-0001' });
      expect((await jobOf(t, p, old.id)).status).toBe('queued');

      const poller = createPoller(t, { orphanGraceMs: GRACE_MS });
      try {
        await poller.pollOnce();
        const healthyDone = await waitForJob(t, p, healthy.jobId);
        expect(healthyDone.status).toBe('succeeded');
      } finally {
        await poller.stop();
      }

      const failed = await jobOf(t, p, old.id);
      expect(failed.status).toBe('failed');
      expect(failed.failure?.code).toBe('object_missing');
      expect(failed.finishedAt).not.toBeNull();
      expect(failed.recordsWritten).toBe(0);
      // Inside the grace period: still queued, whatever its object.
      expect((await jobOf(t, p, young.jobId)).status).toBe('queued');
      expect((await t.storage.control.getJob(p.id, backfill.id))?.status).toBe('queued');
      // Nothing else was written: the healthy file's two rows only.
      expect((await storedRecords(t, p)).map((r) => JSON.parse(r.data))).toEqual(
        expect.arrayContaining([{ a: '3', b: '4' }, { a: '5', b: '6' }]),
      );
      expect(await storedRecords(t, p)).toHaveLength(2);

      // Once past the grace period the young orphan goes the same way.
      const later = createPoller(t, { orphanGraceMs: 0 });
      try {
        await later.pollOnce();
      } finally {
        await later.stop();
      }
      const youngFailed = await jobOf(t, p, young.jobId);
      expect(youngFailed.status).toBe('failed');
      expect(youngFailed.failure?.code).toBe('object_missing');
      expect((await jobOf(t, p, healthy.jobId)).status).toBe('succeeded');
      expect((await t.storage.control.getJob(p.id, backfill.id))?.status).toBe('queued');
      expect(await storedRecords(t, p)).toHaveLength(2);
    });

    it('leaves a job alone while another worker holds its lease, and a queued job whose object exists', async () => {
      const held = await uploadFile(t, p, 'held.csv', 'a\n1\n', 'text/csv');
      const heldJob = await t.storage.control.getJob(p.id, held.jobId);
      expect(await t.storage.control.claimJob(p.id, held.jobId, 'another-worker', 60_000)).not.toBeNull();
      await t.storage.objects.delete(p.project.bucketName, heldJob!.objectKey);
      const waiting = await uploadFile(t, p, 'waiting.csv', 'a\n2\n', 'text/csv');

      const poller = createPoller(t, { orphanGraceMs: 0, concurrency: 1 });
      try {
        await poller.reconcileOrphans([p.project]);
      } finally {
        await poller.stop();
      }
      expect((await jobOf(t, p, held.jobId)).status).toBe('running');
      expect((await jobOf(t, p, waiting.jobId)).status).toBe('queued');
    });
  });
}
