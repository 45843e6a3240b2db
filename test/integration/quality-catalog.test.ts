// The field catalog and drift: every write path (pushes, file jobs) counts the fields it
// stored after cleaning, GET .../fields lists them, and a file job that meets a field new to
// the catalog, or a known field with a new type, reports it on the job, counts it in a
// metric and, when the model asks for it, sends one webhook alert. Both modes (DynamoDB
// Local, SQLite); every refused request is checked against what storage holds afterwards.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller } from '../../src/ingest/poller.js';
import { Alerter, type AlertMessage } from '../../src/observability/alerts.js';
import type { CatalogField } from '../../src/quality/catalog/field-catalog.js';
import { createProjectWithKey, FAST_POLLER, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;

interface FieldView {
  path: string;
  types: Record<string, number>;
  count: number;
  firstSeen: string;
  lastSeen: string;
  example?: unknown;
  redacted?: boolean;
}

/** A webhook receiver on 127.0.0.1:0 that keeps every alert it is sent. */
async function startReceiver(): Promise<{ url: string; received: AlertMessage[]; close(): Promise<void> }> {
  const received: AlertMessage[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      received.push(JSON.parse(text) as AlertMessage);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(MODES)('field catalog and drift (%s mode)', (mode) => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let alerter: Alerter;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ mode });
    receiver = await startReceiver();
    alerter = new Alerter({ webhookUrl: receiver.url, logger: t.logger, metrics: t.metrics, backoffMs: 20, source: 'test-host' });
    poller = new Poller(
      {
        ...t.storage,
        projects: t.services.projects,
        logger: t.logger,
        metrics: t.metrics,
        onFieldDrift: (job) => alerter.fieldDrift(job),
      },
      { ...FAST_POLLER, maxDecompressedBytes: t.config.limits.maxDecompressedBytes },
    );
    poller.start();
    // As the server wires it: a push's drift alerts when the project asked for drift alerts.
    t.services.records.onFieldDrift = (project, drift) => {
      if (project.model?.driftAlerts === true) alerter.pushDrift(project.id, drift);
    };
  });
  afterAll(async () => {
    await poller?.stop();
    await alerter?.close(0);
    await receiver?.close();
    await t?.close();
  });

  const listFields = (p: TestProject, query: Record<string, string> = {}, auth: Record<string, string> = p.auth) =>
    request(t.app).get(`/v1/projects/${p.id}/fields`).query(query).set(auth);

  async function allFields(p: TestProject): Promise<FieldView[]> {
    const fields: FieldView[] = [];
    let cursor: string | null = null;
    do {
      const res = await listFields(p, cursor === null ? { limit: '2' } : { limit: '2', cursor });
      expect(res.status, res.text).toBe(200);
      fields.push(...(res.body.items as FieldView[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    return fields;
  }

  async function storedCatalog(p: TestProject): Promise<CatalogField[]> {
    return (await t.storage.control.catalog.listFields(p.id, { limit: 1000 })).items;
  }

  async function putModel(p: TestProject, model: Record<string, unknown>) {
    return request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send(model);
  }

  async function driftCount(kind: string): Promise<number> {
    const metric = await t.metrics.fieldDrift.get();
    return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
  }

  it('lists every field path of pushed records with its types, counts, times and one example', async () => {
    const p = await createProjectWithKey(t, 'fc');
    const body = [
      '{"email":"a@example.com","age":41,"big":12345678901234567890,"address":{"city":"Zürich","zip":"8001"},"tags":["a"],"vip":true}',
      '{"email":"b@example.com","age":"unknown","address":{"city":"Bern"},"tags":[],"note":null}',
    ].join('\n');
    const pushed = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/x-ndjson').send(body);
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.body.accepted).toBe(2);

    const fields = await allFields(p);
    expect(fields.map((f) => f.path)).toEqual(['address', 'address.city', 'address.zip', 'age', 'big', 'email', 'note', 'tags', 'vip']);
    const byPath = new Map(fields.map((f) => [f.path, f]));
    expect(byPath.get('age')).toMatchObject({ types: { number: 1, string: 1 }, count: 2, example: 41 });
    expect(byPath.get('address')).toMatchObject({ types: { object: 2 }, count: 2 });
    expect(byPath.get('address')!.example).toBeUndefined();
    expect(byPath.get('address.city')).toMatchObject({ types: { string: 2 }, example: 'Zürich' });
    expect(byPath.get('tags')).toMatchObject({ types: { array: 2 }, count: 2 });
    expect(byPath.get('note')).toMatchObject({ types: { null: 1 }, example: null });
    expect(byPath.get('vip')).toMatchObject({ types: { boolean: 1 }, example: true });
    // Every digit kept: a number past a double's precision reads back as its digits.
    expect(byPath.get('big')!.example).toBe('12345678901234567890');
    expect(Date.parse(byPath.get('email')!.firstSeen)).not.toBeNaN();
    expect(byPath.get('email')!.lastSeen >= byPath.get('email')!.firstSeen).toBe(true);

    // What the API shows is what the store holds.
    const stored = await storedCatalog(p);
    expect(stored.map((f) => [f.path, f.count])).toEqual(fields.map((f) => [f.path, f.count]));

    // A second push adds to the counts; a refused record adds nothing.
    const again = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send([{ email: 'c@example.com' }, 'not an object']);
    expect(again.status, again.text).toBe(200);
    expect(again.body.accepted).toBe(1);
    const after = new Map((await storedCatalog(p)).map((f) => [f.path, f]));
    expect(after.get('email')!.types).toEqual({ string: 3 });
    expect(after.size).toBe(9);
  });

  it('counts fields after cleaning, never shows a hashed field\'s value, and leaves refused rows out', async () => {
    const p = await createProjectWithKey(t, 'fc-clean');
    const model = await putModel(p, {
      rules: [
        { op: 'rename', from: 'E-mail', to: 'email' },
        { op: 'required', fields: ['email'] },
        { op: 'hash', fields: ['ssn'] },
      ],
    });
    expect(model.status, model.text).toBe(200);
    const csv = 'E-mail,ssn,name\na@example.com,123-45-6789,Ann\n,999-99-9999,Nobody\n';
    const { jobId } = await uploadFile(t, p, 'people.csv', csv, 'text/csv');
    const job = await waitForJob(t, p, jobId);
    expect(job.status).toBe('partial');
    expect(job.recordsWritten).toBe(1);

    const fields = await allFields(p);
    expect(fields.map((f) => f.path)).toEqual(['email', 'name', 'ssn']);
    const ssn = fields.find((f) => f.path === 'ssn')!;
    expect(ssn).toMatchObject({ types: { string: 1 }, count: 1, redacted: true });
    expect(ssn.example).toBeUndefined();
    // The refused row (no email) is counted nowhere.
    expect(fields.find((f) => f.path === 'name')!.count).toBe(1);
    const text = JSON.stringify(await listFields(p).then((r) => r.body));
    expect(text).not.toContain('123-45-6789');
    expect(text).not.toContain('999-99-9999');
    expect((await storedCatalog(p)).find((f) => f.path === 'ssn')!.example).toBeUndefined();
  });

  it('reports new fields and type changes on the file job, counts them and alerts once per job when asked', async () => {
    const p = await createProjectWithKey(t, 'fc-drift');
    const model = await putModel(p, { driftAlerts: true });
    expect(model.status, model.text).toBe(200);
    expect(model.body.driftAlerts).toBe(true);

    const first = await uploadFile(t, p, 'first.ndjson', '{"email":"a@example.com","age":"41"}\n{"email":"b@example.com","age":"7"}\n');
    const job1 = (await waitForJob(t, p, first.jobId)) as unknown as Record<string, unknown>;
    expect(job1.status).toBe('succeeded');
    expect(job1.newFields).toEqual(['age', 'email']);
    expect(job1.typeChanges).toBeUndefined();
    // The first job's alert (its two fields were new too) is out before the counts are read.
    await expect.poll(() => receiver.received.filter((a) => a.text.includes(first.jobId)).length, { timeout: 5000 }).toBe(1);

    const newBefore = await driftCount('new_field');
    const changeBefore = await driftCount('type_change');
    const alertsBefore = receiver.received.length;
    // 50 rows with the same drift: one report per field, one alert for the job.
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ email: `c${i}@example.com`, age: i, phone: `+4179${i}` }));
    const second = await uploadFile(t, p, 'second.ndjson', `${rows.join('\n')}\n`);
    const job2 = (await waitForJob(t, p, second.jobId)) as unknown as Record<string, unknown>;
    expect(job2.status).toBe('succeeded');
    expect(job2.newFields).toEqual(['phone']);
    expect(job2.typeChanges).toEqual([{ field: 'age', knownTypes: ['string'], newTypes: ['number'] }]);
    // The poller counts once the job is stored as finished.
    await expect.poll(() => driftCount('new_field')).toBe(newBefore + 1);
    await expect.poll(() => driftCount('type_change')).toBe(changeBefore + 1);

    const stored = await t.storage.control.getJob(p.id, second.jobId);
    expect(stored?.newFields).toEqual(['phone']);
    const age = (await storedCatalog(p)).find((f) => f.path === 'age')!;
    expect(age.types).toEqual({ string: 2, number: 50 });

    await expect.poll(() => receiver.received.length - alertsBefore, { timeout: 5000 }).toBe(1);
    const alert = receiver.received.at(-1)!;
    expect(alert.text).toContain(p.id);
    expect(JSON.stringify(alert)).toContain('phone');
    expect(JSON.stringify(alert)).toContain('age: string → number');

    // The same fields again: no drift, no alert.
    const third = await uploadFile(t, p, 'third.ndjson', '{"email":"d@example.com","age":3,"phone":"+41"}\n');
    const job3 = (await waitForJob(t, p, third.jobId)) as unknown as Record<string, unknown>;
    expect(job3.newFields).toBeUndefined();
    expect(job3.typeChanges).toBeUndefined();
    expect(receiver.received.length - alertsBefore).toBe(1);
  });

  it('reports drift on a push as a job does: in the answer, in the metric and in one alert per field', async () => {
    const p = await createProjectWithKey(t, 'fc-push-drift');
    expect((await putModel(p, { driftAlerts: true })).status).toBe(200);
    const push = (body: unknown) => request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send(body as object);
    const newBefore = await driftCount('new_field');
    const changeBefore = await driftCount('type_change');
    const alertsBefore = receiver.received.length;

    const first = await push([{ email: 'a@example.com', age: '41' }, { email: 'b@example.com', age: '7' }]);
    expect(first.status, first.text).toBe(200);
    expect(first.body.newFields).toEqual(['age', 'email']);
    expect(first.body.typeChanges).toBeUndefined();
    expect(await driftCount('new_field')).toBe(newBefore + 2);
    await expect.poll(() => receiver.received.length - alertsBefore, { timeout: 5000 }).toBe(1);
    expect(receiver.received.at(-1)!.text).toContain(p.id);

    // 100 records bringing the same drift: reported once, counted once, one alert.
    const second = await push(Array.from({ length: 100 }, (_, i) => ({ email: `c${i}@example.com`, age: i, phone: `+4179${i}` })));
    expect(second.status, second.text).toBe(200);
    expect(second.body.accepted).toBe(100);
    expect(second.body.newFields).toEqual(['phone']);
    expect(second.body.typeChanges).toEqual([{ field: 'age', knownTypes: ['string'], newTypes: ['number'] }]);
    expect(await driftCount('new_field')).toBe(newBefore + 3);
    expect(await driftCount('type_change')).toBe(changeBefore + 1);
    await expect.poll(() => receiver.received.length - alertsBefore, { timeout: 5000 }).toBe(2);
    expect(JSON.stringify(receiver.received.at(-1))).toContain('age: string → number');
    const age = (await storedCatalog(p)).find((f) => f.path === 'age')!;
    expect(age.types).toEqual({ string: 2, number: 100 });

    // Known fields again: no drift in the answer, no count, no alert.
    const third = await push({ email: 'd@example.com', age: 3, phone: '+41' });
    expect(third.status, third.text).toBe(200);
    expect(third.body.newFields).toBeUndefined();
    expect(third.body.typeChanges).toBeUndefined();
    expect(await driftCount('new_field')).toBe(newBefore + 3);
    expect(receiver.received.length - alertsBefore).toBe(2);
  });

  it('sends no drift alert for a project that did not ask for one, yet still reports and counts the drift', async () => {
    const p = await createProjectWithKey(t, 'fc-quiet');
    const alertsBefore = receiver.received.length;
    const newBefore = await driftCount('new_field');
    const { jobId } = await uploadFile(t, p, 'quiet.ndjson', '{"a":1}\n{"a":2,"b":"x"}\n');
    const job = (await waitForJob(t, p, jobId)) as unknown as Record<string, unknown>;
    expect(job.newFields).toEqual(['a', 'b']);
    await expect.poll(() => driftCount('new_field')).toBe(newBefore + 2);
    expect(receiver.received.length).toBe(alertsBefore);
  });

  it('removes the catalog with its project', async () => {
    const p = await createProjectWithKey(t, 'fc-gone');
    await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send({ a: 1 }).expect(200);
    expect(await storedCatalog(p)).toHaveLength(1);
    const res = await request(t.app).delete(`/v1/projects/${p.id}`).query({ confirm: p.id }).set(t.admin);
    expect(res.status, res.text).toBe(202);
    await expect.poll(() => t.storage.control.getProject(p.id), { timeout: 15_000 }).toBeNull();
    expect(await storedCatalog(p)).toEqual([]);
  });

  it('refuses bad listing requests and a bad driftAlerts setting, and changes nothing', async () => {
    const p = await createProjectWithKey(t, 'fc-bad');
    await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send({ a: 1, b: 2, c: 3 }).expect(200);
    const before = await storedCatalog(p);
    expect(before).toHaveLength(3);

    const unknown = await listFields(p, { type: 'string' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('unknown_parameter');
    const limit = await listFields(p, { limit: '0' });
    expect(limit.status).toBe(400);
    expect(limit.body.error.code).toBe('invalid_limit');
    const cursor = await listFields(p, { cursor: 'not-a-cursor' });
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.code).toBe('invalid_cursor');
    const anonymous = await request(t.app).get(`/v1/projects/${p.id}/fields`);
    expect(anonymous.status).toBe(401);

    // A key with write scope only may not read the catalog; another project's key neither.
    const writer = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'w', scopes: ['records:write'] });
    expect(writer.status, writer.text).toBe(201);
    const scoped = await listFields(p, {}, { 'X-API-Key': writer.body.key as string });
    expect(scoped.status).toBe(403);
    expect(scoped.body.error.code).toBe('insufficient_scope');
    const other = await createProjectWithKey(t, 'fc-other');
    const foreign = await listFields(p, {}, other.auth);
    expect(foreign.status).toBe(403);
    expect(await allFields(other)).toEqual([]);

    const badModel = await putModel(p, { driftAlerts: 'yes' });
    expect(badModel.status).toBe(400);
    expect(badModel.body.error.code).toBe('validation_failed');
    expect((await t.storage.control.getProject(p.id))?.model).toBeUndefined();

    expect(await storedCatalog(p)).toEqual(before);
  });
});
