// Replaying the quarantine through the current model: rows that now pass are stored once
// and leave, rows that still fail stay with the new reason; a replay stopped half-way and
// started again stores nothing twice; a second replay while one runs is 409. Both modes.
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuarantineReplay } from '../../src/quality/quarantine/quarantine-replay.js';
import type { ControlStore, QuarantineStore } from '../../src/storage/ports.js';
import { createPoller, createProjectWithKey, listJobs, storedRecords, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;
const KEY = { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } };

interface EntryView {
  id: string;
  jobId: string | null;
  raw: string | null;
  reason: { code: string; message: string; step?: number };
  modelVersion: number | null;
}

describe.each(MODES)('quarantine replay (%s mode)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode });
  });
  afterAll(async () => t?.close());

  const putModel = async (p: TestProject, model: object) => {
    const res = await request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send(model);
    expect(res.status, res.text).toBe(200);
  };
  const push = (p: TestProject, lines: object[]) =>
    request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(p.auth)
      .set('Content-Type', 'application/x-ndjson')
      .send(lines.map((line) => JSON.stringify(line)).join('\n'));
  const replay = (p: TestProject, filter: object = {}) =>
    request(t.app).post(`/v1/projects/${p.id}/quarantine/replay`).set(p.auth).send(filter);

  async function entries(p: TestProject, query: Record<string, string> = {}): Promise<EntryView[]> {
    const res = await request(t.app).get(`/v1/projects/${p.id}/quarantine`).query({ limit: '1000', ...query }).set(p.auth);
    expect(res.status, res.text).toBe(200);
    return res.body.items as EntryView[];
  }

  const emails = async (p: TestProject) => (await storedRecords(t, p)).map((r) => JSON.parse(r.data).email as string).sort();

  it('stores the rows a fixed rule now passes, once; the rest stay with the new reason and model version', async () => {
    const p = await createProjectWithKey(t, 'qr');
    await putModel(p, { key: KEY, merge: 'merge' });
    const pushed = await push(p, [{ email: 'a@example.com' }, { mail: 'b@example.com' }, { mail: 'c@example.com' }, { name: 'nobody' }]);
    expect(pushed.body.rejected).toBe(3);
    expect(await entries(p)).toHaveLength(3);

    await putModel(p, { key: KEY, merge: 'merge', rules: [{ op: 'rename', from: 'mail', to: 'email' }] });
    const started = await replay(p);
    expect(started.status, started.text).toBe(202);
    expect(started.body.fileName).toBe('(quarantine replay)');
    const job = await waitForJob(t, p, started.body.id as string);
    expect(job).toMatchObject({ status: 'partial', rowsRead: 3, recordsWritten: 2, rowsRejected: 1 });

    expect(await emails(p)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    const left = await entries(p);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ raw: '{"name":"nobody"}', modelVersion: 2, reason: { code: 'missing_key' } });
    // The field catalog counts the replayed rows as stored, cleaned (never tallied when refused).
    const catalog = (await t.storage.control.catalog.listFields(p.id, { limit: 100 })).items;
    expect(catalog.map((f) => [f.path, f.types])).toEqual([['email', { string: 3 }]]);

    // Nothing left that passes: a second replay stores nothing and changes nothing.
    const again = await replay(p);
    expect(again.status).toBe(202);
    expect(await waitForJob(t, p, again.body.id as string)).toMatchObject({ status: 'failed', recordsWritten: 0, rowsRejected: 1 });
    expect(await emails(p)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(await entries(p)).toHaveLength(1);
  });

  it("replays one job's file rows under the ids the rows would have had", async () => {
    const p = await createProjectWithKey(t, 'qr');
    await putModel(p, { key: KEY, merge: 'merge' });
    const poller = createPoller(t);
    poller.start();
    try {
      const upload = await uploadFile(t, p, 'crm.ndjson', '{"email":"d@example.com"}\n{"mail":"e@example.com"}\n', 'application/x-ndjson');
      expect((await waitForJob(t, p, upload.jobId)).rowsRejected).toBe(1);
      await push(p, [{ mail: 'f@example.com' }]);
      await putModel(p, { key: KEY, merge: 'merge', rules: [{ op: 'rename', from: 'mail', to: 'email' }] });
      const started = await replay(p, { jobId: upload.jobId });
      expect(started.status, started.text).toBe(202);
      expect(await waitForJob(t, p, started.body.id as string)).toMatchObject({ status: 'succeeded', recordsWritten: 1 });
      expect(await emails(p)).toEqual(['d@example.com', 'e@example.com']);
      // The pushed row was not in the filter: still quarantined.
      expect((await entries(p)).map((entry) => entry.jobId)).toEqual([null]);
      const record = (await storedRecords(t, p)).find((r) => JSON.parse(r.data).email === 'e@example.com')!;
      expect(JSON.parse(record.source)).toMatchObject({ type: 'file', fileId: upload.fileId, jobId: upload.jobId, row: 2 });
    } finally {
      await poller.stop();
    }
  });

  it('a replay stopped after storing rows but before their entries left, then started again, stores each row once', async () => {
    // No customer key: each row is its own record, so a row stored twice would be two records.
    const p = await createProjectWithKey(t, 'qr');
    const lines = Array.from({ length: 150 }, (_, i) => ({ mail: `u${i}@example.com` }));
    await putModel(p, { rules: [{ op: 'required', fields: ['email'] }] });
    expect((await push(p, lines)).body.rejected).toBe(150);
    await putModel(p, { rules: [{ op: 'rename', from: 'mail', to: 'email' }, { op: 'required', fields: ['email'] }] });
    const project = (await t.storage.control.getProject(p.id))!;

    // The task dies (as under kill -9) right after its first page is stored: no entry
    // leaves, no lease is given back, the job is never finished by it.
    const real = t.storage.control.quarantine;
    let deletes = 0;
    const dying: QuarantineStore = Object.create(real, {
      deleteEntry: { value: async () => { deletes++; throw new Error('killed'); } },
      releaseReplay: { value: async () => undefined },
    });
    const control: ControlStore = Object.create(t.storage.control, {
      quarantine: { value: dying },
      finishJob: { value: async () => false },
    });
    // A lease long enough for the checks below on a loaded machine (the 409 must come first).
    const first = await new QuarantineReplay(control, t.storage.records, { leaseMs: 6000 }).start(project, {});
    await first.done;
    expect(deletes).toBe(1);
    expect(await storedRecords(t, p)).toHaveLength(100);
    expect(await entries(p)).toHaveLength(150);

    // While its lease runs, another replay is refused, and changes nothing.
    const refused = await replay(p);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('quarantine_replay_in_progress');
    expect(await entries(p)).toHaveLength(150);

    // Once the dead task's lease has expired, a replay starts and picks up where it died.
    let resumed = await replay(p);
    for (let waited = 0; resumed.status === 409 && waited < 15_000; waited += 200) {
      await sleep(200);
      resumed = await replay(p);
    }
    expect(resumed.status, resumed.text).toBe(202);
    expect(await waitForJob(t, p, resumed.body.id as string)).toMatchObject({ status: 'succeeded', recordsWritten: 150, rowsRejected: 0 });
    const stored = await storedRecords(t, p);
    expect(stored).toHaveLength(150);
    expect(new Set(stored.map((r) => JSON.parse(r.data).email)).size).toBe(150);
    expect(await entries(p)).toEqual([]);
  });

  it("refuses a replay while another task holds the project's replay, and a bad filter; nothing is stored or started", async () => {
    const p = await createProjectWithKey(t, 'qr');
    await putModel(p, { key: KEY, merge: 'merge' });
    await push(p, [{ mail: 'g@example.com' }]);
    await putModel(p, { key: KEY, merge: 'merge', rules: [{ op: 'rename', from: 'mail', to: 'email' }] });
    const jobsBefore = await listJobs(t, p);
    expect(await t.storage.control.quarantine.claimReplay(p.id, 'another-task', 60_000, Date.now())).toBe(true);

    const busy = await replay(p, { code: 'missing_key' });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('quarantine_replay_in_progress');
    const bad = await replay(p, { jobId: '', status: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const readOnly = await request(t.app).post(`/v1/projects/${p.id}/quarantine/replay`).set(t.admin).send({});
    expect(readOnly.status).toBe(409);
    expect(await listJobs(t, p)).toEqual(jobsBefore);
    expect(await storedRecords(t, p)).toEqual([]);
    expect(await entries(p)).toHaveLength(1);

    await t.storage.control.quarantine.releaseReplay(p.id, 'another-task');
    const free = await replay(p);
    expect(free.status, free.text).toBe(202);
    expect(await waitForJob(t, p, free.body.id as string)).toMatchObject({ status: 'succeeded', recordsWritten: 1 });
    expect(await emails(p)).toEqual(['g@example.com']);
  });
});
