// Retention of export jobs' objects under exports/: a lifecycle rule on each project bucket
// in aws mode, the bounded periodic sweep in embedded mode; the job's view shows when its
// objects expire, and a download past then answers 410 export_expired (the clock is moved
// on for the server, never waited for).
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ProcessedRetention } from '../../src/ingest/processed-retention.js';
import { projectBucketLifecycle } from '../../src/storage/s3/bucket-lifecycle.js';
import { bucketObjects, createProjectWithKey, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const DAY_MS = 86_400_000;

describe('export retention: settings and the lifecycle rule', () => {
  it('defaults to 7 days; 0 keeps exports; a negative or fractional value is refused at start', () => {
    expect(loadConfig({}).exportJobs.retentionDays).toBe(7);
    expect(loadConfig({ INTAKE_EXPORT_RETENTION_DAYS: '0' }).exportJobs.retentionDays).toBe(0);
    expect(() => loadConfig({ INTAKE_EXPORT_RETENTION_DAYS: '-1' })).toThrow(/INTAKE_EXPORT_RETENTION_DAYS/);
    expect(() => loadConfig({ INTAKE_EXPORT_RETENTION_DAYS: '1.5' })).toThrow(/INTAKE_EXPORT_RETENTION_DAYS/);
  });

  it('adds a rule expiring exports/ beside the processed/ one; none when exports are kept', () => {
    const rules = projectBucketLifecycle('b-1', 30, 7).LifecycleConfiguration.Rules;
    expect(rules.at(-1)).toEqual({ ID: 'intake-export-retention', Status: 'Enabled', Filter: { Prefix: 'exports/' }, Expiration: { Days: 7 } });
    expect(projectBucketLifecycle('b-1', 30, 0).LifecycleConfiguration.Rules.map((r) => r.ID)).toEqual([
      'intake-abort-incomplete-uploads',
      'intake-processed-retention',
    ]);
  });
});

describe('export retention (embedded): expiresAt, 410 export_expired and the sweep', () => {
  let t: TestApp;
  let p: TestProject;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded', env: { INTAKE_EXPORT_RETENTION_DAYS: '3' } });
    p = await createProjectWithKey(t, 'xr');
    const pushed = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send([{ a: 1 }, { a: 2 }]);
    expect(pushed.body.accepted).toBe(2);
  });
  afterAll(async () => t?.close());
  afterEach(() => vi.useRealTimers());

  async function finishedExport() {
    const res = await request(t.app).post(`/v1/projects/${p.id}/exports`).set(p.auth).send({ format: 'ndjson' });
    expect(res.status, res.text).toBe(202);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const got = await request(t.app).get(`/v1/projects/${p.id}/exports/${res.body.id}`).set(p.auth);
      if (got.body.status === 'succeeded') return got.body as { id: string; snapshotStartedAt: string; expiresAt: string; parts: { url: string }[]; manifest: string };
      if (Date.now() > deadline) throw new Error(`export still ${got.body.status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('shows expiresAt, serves the files until then and answers 410 export_expired after, objects still there or not', async () => {
    const job = await finishedExport();
    expect(job.expiresAt).toBe(new Date(Date.parse(job.snapshotStartedAt) + 3 * DAY_MS).toISOString());
    expect((await request(t.app).get(job.parts[0]!.url).set(p.auth)).status).toBe(200);

    // Just before expiresAt the part is served; from expiresAt on, it and the manifest are gone for the API.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(job.expiresAt) - 1000 });
    expect((await request(t.app).get(job.parts[0]!.url).set(p.auth)).status).toBe(200);
    vi.setSystemTime(Date.parse(job.expiresAt));
    for (const url of [job.parts[0]!.url, job.manifest]) {
      const gone = await request(t.app).get(url).set(p.auth);
      expect(gone.status).toBe(410);
      expect(gone.body.error.code).toBe('export_expired');
    }
    // The job itself stays listed, with its expiry, and its objects are still in the bucket
    // until the sweep (S3: the lifecycle rule) removes them.
    const view = await request(t.app).get(`/v1/projects/${p.id}/exports/${job.id}`).set(p.auth);
    expect(view.body).toMatchObject({ status: 'succeeded', expiresAt: job.expiresAt });
    vi.useRealTimers();
    expect((await bucketObjects(t, p, `exports/${job.id}/`)).map((o) => o.key)).toEqual([`exports/${job.id}/manifest.json`, `exports/${job.id}/part-00000.ndjson`]);
  });

  it('the sweep deletes export objects older than the retention and keeps the records', async () => {
    const job = await finishedExport();
    const sweeper = new ProcessedRetention(t.storage.objects, () => t.services.projects.all(), { days: 3, prefix: 'exports/' });
    expect(await sweeper.sweepOnce()).toBe(0);
    expect((await bucketObjects(t, p, `exports/${job.id}/`)).length).toBe(2);
    const all = (await bucketObjects(t, p, 'exports/')).length;
    expect(await sweeper.sweepOnce(Date.now() + 4 * DAY_MS)).toBe(all);
    expect(await bucketObjects(t, p, 'exports/')).toEqual([]);
    // The records themselves are untouched.
    const records = await request(t.app).get(`/v1/projects/${p.id}/records`).set(p.auth);
    expect(records.body.items).toHaveLength(2);
  });
});
