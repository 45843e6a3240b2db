// An index backfill whose worker died: the model already declares the new index, the
// records written before it lack their entries, and the job is left running with a lease
// that expires. The poller's sweep takes it up and finishes it, so the index serves every
// record; a backfill whose lease is still held is left alone. Both modes.
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_JOB_NAME } from '../../src/domain/index-backfill.js';
import { assignIndexSlots } from '../../src/domain/record-model.js';
import { newJob } from '../../src/ingest/jobs.js';
import { createServices } from '../../src/services.js';
import { Poller } from '../../src/ingest/poller.js';
import { createProjectWithKey, FAST_POLLER, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const KEY = { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } };

for (const mode of ['aws', 'embedded'] as const) {
  describe(`index backfill resumed after its worker died (${mode})`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ mode });
    });
    afterAll(() => t.close());

    /** What the index holds for a tier, read from the store (the service caches the project's model for a few seconds). */
    async function indexed(p: TestProject, tier: string): Promise<number> {
      const project = (await t.storage.control.getProject(p.id))!;
      const slot = project.model!.indexSlots!.tier!;
      const page = await t.storage.records.queryIndex(project.tableName, { field: 'tier', slot, match: { equals: tier }, limit: 100 });
      return page.items.length;
    }

    /** A keyed project holding 30 records, then a model declaring `tier` whose backfill "died": a job leased by a gone worker. */
    async function stalledBackfill(leaseMs: number): Promise<{ p: TestProject; jobId: string; leaseExpiresAt: number }> {
      const p = await createProjectWithKey(t, 'bfr');
      expect((await request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send({ key: KEY, merge: 'merge' })).status).toBe(200);
      const pushed = await request(t.app)
        .post(`/v1/projects/${p.id}/records`)
        .set(p.auth)
        .send(Array.from({ length: 30 }, (_, i) => ({ email: `c${i}@example.com`, tier: i < 12 ? 'gold' : 'free' })));
      expect(pushed.status, pushed.text).toBe(200);
      const project = (await t.storage.control.getProject(p.id))!;
      const model = project.model!;
      const changed = { ...model, indexes: ['tier'], indexSlots: assignIndexSlots(['tier'], model.indexSlots), version: model.version + 1 };
      expect(await t.storage.control.setProjectModel(p.id, changed, model.version)).toBe(true);
      const job = await t.storage.control.createJob({
        ...newJob(project, { key: '', etag: `model-v${changed.version}`, size: 0, fileName: BACKFILL_JOB_NAME }, new Date()),
        objectKey: '',
      });
      const claimed = await t.storage.control.claimJob(p.id, job.id, 'worker-that-died', leaseMs);
      expect(claimed).not.toBeNull();
      return { p: { ...p, project: (await t.storage.control.getProject(p.id))! }, jobId: job.id, leaseExpiresAt: claimed!.leaseExpiresAt! };
    }

    function poller(): Poller {
      const services = createServices(t.config, t.storage, t.adminToken);
      return new Poller(
        {
          ...t.storage,
          projects: services.projects,
          logger: t.logger,
          metrics: t.metrics,
          resumeBackfill: (project, job) => services.backfill.resume(project, job),
        },
        { ...FAST_POLLER, maxDecompressedBytes: t.config.limits.maxDecompressedBytes, maxRecordDepth: t.config.limits.maxJsonDepth, maxInflationRatio: t.config.limits.maxInflationRatio },
      );
    }

    it('takes up a backfill whose lease expired and indexes every record', async () => {
      const { p, jobId, leaseExpiresAt } = await stalledBackfill(1);
      // The sweep only takes up a lease that has passed; on a fast store the sweep can
      // otherwise run within the lease's one millisecond.
      await sleep(Math.max(0, leaseExpiresAt - Date.now()) + 20);
      // Before: the index knows none of the records written before it.
      expect(await indexed(p, 'gold')).toBe(0);
      const sweeper = poller();
      try {
        await sweeper.reconcileOrphans([p.project]);
        const job = await waitForJob(t, p, jobId);
        expect(job).toMatchObject({ status: 'succeeded', rowsRead: 30, recordsWritten: 30 });
      } finally {
        await sweeper.stop();
      }
      expect(await indexed(p, 'gold')).toBe(12);
      expect(await indexed(p, 'free')).toBe(18);
    });

    it('leaves a backfill alone while its worker still holds the lease', async () => {
      const { p, jobId } = await stalledBackfill(60_000);
      const sweeper = poller();
      try {
        await sweeper.reconcileOrphans([p.project]);
      } finally {
        await sweeper.stop();
      }
      const job = await t.storage.control.getJob(p.id, jobId);
      expect(job).toMatchObject({ status: 'running', leaseOwner: 'worker-that-died' });
      expect(await indexed(p, 'gold')).toBe(0);
    });
  });
}
