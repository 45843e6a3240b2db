// The console's overview, in both store engines: projects with record counts and running /
// failed jobs, records ingested per hour over 24 hours (hourly counters in the control store,
// bumped by pushes and by job checkpoints), and the latest alerts kept when they fire.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hourOf } from '../../src/domain/overview.service.js';
import type { JobItem } from '../../src/domain/model.js';
import { Alerter } from '../../src/observability/alerts.js';
import { MAX_ALERTS_KEPT } from '../../src/storage/activity-retention.js';
import { createPoller, createProjectWithKey, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { expectError } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const HOUR = 3600_000;

describe.each(['embedded', 'aws'] as const)('console overview (%s)', (mode) => {
  let t: TestApp;
  let a: TestProject;
  let b: TestProject;

  beforeAll(async () => {
    t = await createTestApp({ mode });
    a = await createProjectWithKey(t, 'ova');
    b = await createProjectWithKey(t, 'ovb');
  });
  afterAll(async () => {
    await t.close();
  });

  it('is for the admin only', async () => {
    expectError(await request(t.app).get('/v1/overview'), 401, 'unauthenticated');
    expectError(await request(t.app).get('/v1/overview').set(a.auth), 401, 'unauthenticated');
  });

  it('counts pushed and file records per hour, and lists projects with their counts and jobs', async () => {
    // Read from the store: the overview keeps record counts for 30 s, and this test wants fresh ones.
    const firstHour = hourOf(Date.now());
    const sinceFirst = async () => (await t.storage.control.activity.ingestedSince(firstHour)).reduce((sum, c) => sum + c.records, 0);
    const startCount = await sinceFirst();

    for (const batch of [[{ n: 1 }, { n: 2 }, { n: 3 }], [{ n: 4 }, { n: 5 }]]) {
      const pushed = await request(t.app).post(`/v1/projects/${a.id}/records`).set(a.auth).send(batch);
      expect(pushed.status).toBe(200);
    }
    // A push with only refused records counts nothing.
    await request(t.app).post(`/v1/projects/${a.id}/records`).set(a.auth).set('Content-Type', 'application/x-ndjson').send('not json\n');

    const poller = createPoller(t);
    poller.start();
    try {
      const upload = await uploadFile(t, b, 'people.csv', 'name,age\nAda,36\nGrace,45\nAlan,41\nKatherine,101\n', 'text/csv');
      const job = await waitForJob(t, b, upload.jobId);
      expect(job.status).toBe('succeeded');
    } finally {
      await poller.stop();
    }

    const after = await request(t.app).get('/v1/overview').set(t.admin);
    expect(after.status).toBe(200);
    const hours = after.body.ingestedPerHour as { hour: string; records: number }[];
    expect(hours).toHaveLength(24);
    expect(hours.at(-1)!.hour).toBe(hourOf(Date.now()));
    expect(Date.parse(hours[0]!.hour)).toBe(Date.parse(hours.at(-1)!.hour) - 23 * HOUR);
    // Summed from the hour the test began: the clock may pass an hour meanwhile.
    const shown = hours.filter((h) => h.hour >= firstHour).reduce((sum, h) => sum + h.records, 0);
    expect(shown - startCount).toBe(5 + 4);
    expect(await sinceFirst()).toBe(shown);
    const byId = new Map((after.body.projects as { id: string; records: unknown }[]).map((p) => [p.id, p]));
    expect(byId.get(b.id)).toMatchObject({ id: b.id, name: b.id, jobs: { running: 0, failed: 0 } });
    if (mode === 'embedded') {
      expect(byId.get(a.id)).toMatchObject({ records: 5, recordsExact: true });
      expect(byId.get(b.id)).toMatchObject({ records: 4, recordsExact: true });
    } else {
      // DescribeTable's ItemCount: an estimate AWS refreshes about every six hours.
      expect(byId.get(a.id)).toMatchObject({ recordsExact: false });
      expect(typeof byId.get(a.id)?.records).toBe('number');
    }
  });

  it('adds counts from many writers and keeps only the hours asked for', async () => {
    const now = Date.now();
    const old = hourOf(now - 30 * HOUR);
    const recent = hourOf(now - 5 * HOUR);
    await Promise.all([1, 2, 3, 4].map((n) => t.storage.control.activity.addIngested(a.id, recent, n)));
    await t.storage.control.activity.addIngested(a.id, old, 1000);
    const since = await t.storage.control.activity.ingestedSince(hourOf(now - 23 * HOUR));
    expect(since.find((c) => c.hour === recent && c.projectId === a.id)?.records).toBe(10);
    expect(since.some((c) => c.hour === old)).toBe(false);
    const overview = await request(t.app).get('/v1/overview').set(t.admin);
    expect(overview.body.ingestedPerHour.find((h: { hour: string }) => h.hour === recent).records).toBe(10);
  });

  it('shows the latest alerts, newest first, with or without a webhook', async () => {
    const alerter = new Alerter({ webhookUrl: undefined, logger: t.logger, metrics: t.metrics });
    const kept: Promise<void>[] = [];
    alerter.onAlert = (alert) => kept.push(t.services.overview.recordAlert(alert));
    const failed = { projectId: b.id, id: 'job-overview-1', status: 'failed', fileName: 'broken.csv', errors: [], failure: { code: 'processing_failed', message: 'bad' } };
    alerter.jobFinished(failed as unknown as JobItem);
    alerter.jobFinished(failed as unknown as JobItem); // deduplicated: one alert
    await Promise.all(kept);
    await alerter.close(0);
    const overview = await request(t.app).get('/v1/overview').set(t.admin);
    const alerts = overview.body.alerts as { at: string; kind: string; projectId?: string; message: string }[];
    expect(alerts.filter((x) => x.message.includes('job-overview-1'))).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'job', projectId: b.id });
    expect(Math.abs(Date.parse(alerts[0]!.at) - Date.now())).toBeLessThan(60_000);
  });

  it('keeps alerts bounded and answers at most 20, newest first', async () => {
    // After the alert of the test above, which fired just now.
    const start = Date.now() + 10;
    for (let i = 0; i < MAX_ALERTS_KEPT + 5; i++) {
      await t.storage.control.activity.recordAlert({ at: new Date(start + i * 10).toISOString(), kind: 'storage', message: `alert ${i}` });
    }
    const latest = await t.storage.control.activity.latestAlerts(MAX_ALERTS_KEPT + 50, Date.now());
    expect(latest[0]!.message).toBe(`alert ${MAX_ALERTS_KEPT + 4}`);
    if (mode === 'embedded') expect(latest).toHaveLength(MAX_ALERTS_KEPT);
    const overview = await request(t.app).get('/v1/overview').set(t.admin);
    expect(overview.body.alerts).toHaveLength(20);
    expect(overview.body.alerts[0].message).toBe(`alert ${MAX_ALERTS_KEPT + 4}`);
    // Alerts past the retention are not shown even before DynamoDB's TTL removes them.
    expect(await t.storage.control.activity.latestAlerts(5, Date.now() + 8 * 24 * HOUR)).toEqual([]);
  });
});
