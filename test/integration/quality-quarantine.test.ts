// The quarantine: every refused pushed record and file row is kept with its input, its
// reason, its source and the model version, listed by job and code, deleted by an admin,
// and gone after its retention. Both modes (DynamoDB Local, SQLite); every refused request
// is checked against what storage holds afterwards.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuarantineService } from '../../src/quality/quarantine/quarantine.service.js';
import { createPoller, createProjectWithKey, storedRecords, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;

interface EntryView {
  id: string;
  jobId: string | null;
  raw: string | null;
  reason: { code: string; message: string; step?: number; field?: string };
  source: Record<string, unknown>;
  modelVersion: number | null;
  createdAt: string;
  expiresAt: string;
}

describe.each(MODES)('quarantine (%s mode)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode });
  });
  afterAll(async () => t?.close());

  const listQuarantine = (p: TestProject, query: Record<string, string> = {}) =>
    request(t.app).get(`/v1/projects/${p.id}/quarantine`).query(query).set(p.auth);

  async function allEntries(p: TestProject, query: Record<string, string> = {}): Promise<EntryView[]> {
    const entries: EntryView[] = [];
    let cursor: string | null = null;
    do {
      const res = await listQuarantine(p, cursor === null ? query : { ...query, cursor });
      expect(res.status, res.text).toBe(200);
      entries.push(...(res.body.items as EntryView[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    return entries;
  }

  async function keyedProject(): Promise<TestProject> {
    const p = await createProjectWithKey(t, 'qq');
    const res = await request(t.app)
      .put(`/v1/projects/${p.id}/model`)
      .set(t.admin)
      .send({ key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'merge' });
    expect(res.status, res.text).toBe(200);
    return p;
  }

  it('keeps each refused pushed record with its text as sent, its reason, the request and the model version', async () => {
    const p = await keyedProject();
    const body = ['{"email":"a@example.com","n":12345678901234567890}', '{"name":"no key"}', '{not json', ''].join('\n');
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(p.auth)
      .set('Content-Type', 'application/x-ndjson')
      .set('X-Request-Id', 'req-quarantine-1')
      .send(body);
    expect(res.status, res.text).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.errors.map((e: { code: string }) => e.code)).toEqual(['missing_key', 'invalid_json']);

    const entries = await allEntries(p);
    expect(entries).toHaveLength(2);
    const byCode = Object.fromEntries(entries.map((entry) => [entry.reason.code, entry]));
    expect(byCode.missing_key!.raw).toBe('{"name":"no key"}');
    expect(byCode.invalid_json!.raw).toBe('{not json');
    for (const entry of entries) {
      expect(entry.jobId).toBeNull();
      expect(entry.modelVersion).toBe(1);
      expect(entry.source).toMatchObject({ type: 'push', keyId: expect.any(String), requestId: expect.any(String) });
      expect(Date.parse(entry.expiresAt) - Date.parse(entry.createdAt)).toBe(30 * 24 * 3600 * 1000);
    }
    expect(byCode.missing_key!.source.index).toBe(1);
    // The accepted record is stored, the refused ones are not.
    expect((await storedRecords(t, p)).map((r) => JSON.parse(r.data).email)).toEqual(['a@example.com']);
  });

  it('a retried idempotent push rewrites its entries instead of adding copies', async () => {
    const p = await createProjectWithKey(t, 'qq');
    const body = '[{"ok":1},[1,2]]';
    for (let i = 0; i < 2; i++) {
      const res = await request(t.app)
        .post(`/v1/projects/${p.id}/records`)
        .set(p.auth)
        .set('Content-Type', 'application/json')
        .set('Idempotency-Key', 'retry-me')
        .send(body);
      expect(res.status, res.text).toBe(200);
      expect(res.body.rejected).toBe(1);
    }
    const entries = await allEntries(p);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.raw).toBe('[1,2]');
    expect(entries[0]!.modelVersion).toBeNull();
    expect(entries[0]!.source).toMatchObject({ type: 'push', idempotencyKey: 'retry-me', index: 1 });
  });

  it('keeps refused file rows (parse and key) with file, job and row; lists them by job and by code', async () => {
    const p = await keyedProject();
    const csv = 'email,name\na@example.com,Ann\n,No Key\nb@example.com,"Bob\nc@example.com,Cy,extra\n';
    const poller = createPoller(t);
    poller.start();
    try {
      const first = await uploadFile(t, p, 'customers.csv', csv, 'text/csv');
      const job = await waitForJob(t, p, first.jobId);
      expect(job.rowsRejected, JSON.stringify(job)).toBeGreaterThanOrEqual(2);
      const second = await uploadFile(t, p, 'more.ndjson', '{"email":"d@example.com"}\n{"name":"nobody"}\n', 'application/x-ndjson');
      const job2 = await waitForJob(t, p, second.jobId);
      expect(job2.rowsRejected).toBe(1);

      const ofFirst = await allEntries(p, { jobId: first.jobId, limit: '1' });
      expect(ofFirst).toHaveLength(job.rowsRejected);
      const rows = ofFirst.map((entry) => entry.source.row as number);
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
      const missing = ofFirst.find((entry) => entry.reason.code === 'missing_key')!;
      expect(missing.source).toMatchObject({ type: 'file', jobId: first.jobId, fileId: first.fileId, fileName: 'customers.csv', row: 2 });
      expect(JSON.parse(missing.raw!)).toEqual({ email: '', name: 'No Key' });
      expect(missing.modelVersion).toBe(1);
      for (const entry of ofFirst) expect(entry.jobId).toBe(first.jobId);
      // The job's own counts, the NDJSON error report and the quarantine agree.
      expect(ofFirst.map((entry) => entry.reason.code).sort()).toEqual(job.errors.map((e) => e.code).sort());

      const allMissing = await allEntries(p, { code: 'missing_key' });
      expect(allMissing.map((entry) => entry.jobId).sort()).toEqual([first.jobId, second.jobId].sort());
      const ofSecond = await allEntries(p, { jobId: second.jobId });
      expect(ofSecond.map((entry) => entry.raw)).toEqual(['{"name":"nobody"}']);
    } finally {
      await poller.stop();
    }
  });

  it('refuses unknown parameters, empty filters and foreign cursors, and changes nothing', async () => {
    const p = await createProjectWithKey(t, 'qq');
    await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/json').send('[1,2,3]');
    const before = await allEntries(p);
    expect(before).toHaveLength(3);

    const unknown = await listQuarantine(p, { status: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('unknown_parameter');
    const empty = await listQuarantine(p, { code: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('validation_failed');
    const page = await listQuarantine(p, { limit: '1' });
    const foreign = await listQuarantine(p, { code: 'not_an_object', cursor: page.body.nextCursor as string });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.code).toBe('invalid_cursor');
    const badLimit = await listQuarantine(p, { limit: '0' });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.code).toBe('invalid_limit');
    const other = await createProjectWithKey(t, 'qq');
    const crossed = await request(t.app).get(`/v1/projects/${p.id}/quarantine`).set(other.auth);
    expect([401, 403]).toContain(crossed.status);
    expect(await allEntries(p)).toEqual(before);
    expect(await allEntries(other)).toEqual([]);
  });

  it('an admin deletes one entry; a key cannot, and an unknown entry is 404', async () => {
    const p = await createProjectWithKey(t, 'qq');
    await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/json').send('[1,2]');
    const [first, second] = await allEntries(p);

    const byKey = await request(t.app).delete(`/v1/projects/${p.id}/quarantine/${first!.id}`).set(p.auth);
    expect(byKey.status).toBe(401);
    const unknown = await request(t.app).delete(`/v1/projects/${p.id}/quarantine/p-nothing-00000000`).set(t.admin);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('quarantine_entry_not_found');
    const wrongProject = await request(t.app).delete(`/v1/projects/${p.id}-nope/quarantine/${first!.id}`).set(t.admin);
    expect(wrongProject.status).toBe(404);
    expect(wrongProject.body.error.code).toBe('project_not_found');
    expect((await allEntries(p)).map((entry) => entry.id)).toEqual([first!.id, second!.id]);

    const deleted = await request(t.app).delete(`/v1/projects/${p.id}/quarantine/${first!.id}`).set(t.admin);
    expect(deleted.status).toBe(204);
    expect((await allEntries(p)).map((entry) => entry.id)).toEqual([second!.id]);
    const again = await request(t.app).delete(`/v1/projects/${p.id}/quarantine/${first!.id}`).set(t.admin);
    expect(again.status).toBe(404);
  });

  it('an admin deletes entries by job and code, page by page and bounded; no filter, a key or a running replay changes nothing', async () => {
    const p = await createProjectWithKey(t, 'qq');
    const push = (body: string) => request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/json').send(body);
    // 7 refused as not objects, 1 as invalid JSON (an NDJSON line).
    await push(JSON.stringify([1, 2, 3, 4, 5, 6, 7]));
    await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/x-ndjson').send('{bad');
    const before = await allEntries(p);
    expect(before.map((e) => e.reason.code).sort()).toEqual([...Array(7).fill('not_an_object'), 'invalid_json'].sort());
    const del = (query: Record<string, string>, auth: Record<string, string> = t.admin) =>
      request(t.app).delete(`/v1/projects/${p.id}/quarantine`).query(query).set(auth);

    const noFilter = await del({});
    expect(noFilter.status).toBe(400);
    expect(noFilter.body.error.code).toBe('validation_failed');
    const unknownParam = await del({ status: 'x' });
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.error.code).toBe('unknown_parameter');
    const byKey = await del({ code: 'not_an_object' }, p.auth);
    expect(byKey.status).toBe(401);
    expect(await t.storage.control.quarantine.claimReplay(p.id, 'a-replay', 60_000, Date.now())).toBe(true);
    const busy = await del({ code: 'not_an_object' });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('quarantine_replay_in_progress');
    await t.storage.control.quarantine.releaseReplay(p.id, 'a-replay');
    expect(await allEntries(p)).toEqual(before);

    // Bounded: a call removes at most its limit and says more may remain (3 per call here).
    const service = new QuarantineService(t.storage.control.quarantine);
    expect(await service.deleteMatching(p.project, { code: 'not_an_object' }, 3)).toEqual({ deleted: 3, more: true });
    expect(await allEntries(p, { code: 'not_an_object' })).toHaveLength(4);

    const deleted = await del({ code: 'not_an_object' });
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual({ deleted: 4, more: false });
    expect((await allEntries(p)).map((e) => e.reason.code)).toEqual(['invalid_json']);
    const none = await del({ code: 'not_an_object', jobId: 'no-such-job' });
    expect(none.body).toEqual({ deleted: 0, more: false });
    expect(await allEntries(p)).toHaveLength(1);
  });

  it('entries expire after the retention: hidden from listings, swept where the engine has no TTL', async () => {
    const p = await createProjectWithKey(t, 'qq');
    let clock = Date.now();
    const service = new QuarantineService(t.storage.control.quarantine, 2, () => clock);
    await service.keepPushRejections(
      p.project,
      { body: Buffer.from('[1]'), contentType: 'json', source: { keyId: 'k', requestId: 'r-expiry' } },
      [{ index: 0, code: 'not_an_object', message: 'not an object' }],
    );
    expect((await service.list(p.project, {}, { limit: 10 })).items).toHaveLength(1);
    clock += 2 * 24 * 3600 * 1000 - 1;
    expect((await service.list(p.project, {}, { limit: 10 })).items).toHaveLength(1);
    clock += 2;
    expect((await service.list(p.project, {}, { limit: 10 })).items).toEqual([]);
    const swept = await service.sweep();
    if (mode === 'embedded') expect(swept).toBeGreaterThanOrEqual(1);
  });
});
