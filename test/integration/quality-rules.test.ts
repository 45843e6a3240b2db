// Data quality: cleaning rules and the schema contract in the record model, applied to
// pushes and file rows before a record is keyed and stored, and the preview that stores
// nothing. Storage behaviour runs in both modes (DynamoDB Local, SQLite); every refused
// model or row is checked against what the project holds afterwards.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPoller, createProjectWithKey, storedRecords, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;

const RULES = [
  { op: 'trim', fields: '*' },
  { op: 'email', field: 'email' },
  { op: 'cast', field: 'signup', to: 'date', formats: ['dd/MM/yyyy'] },
  { op: 'map', field: 'country', values: { UK: 'GB', 'United Kingdom': 'GB' } },
  { op: 'required', fields: ['email'] },
];

describe.each(MODES)('cleaning rules (%s mode)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode });
  });
  afterAll(async () => t?.close());

  const putModel = (p: TestProject, body: unknown) => request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send(body as object);
  const getModel = (p: TestProject) => request(t.app).get(`/v1/projects/${p.id}/model`).set(t.admin);
  const push = (p: TestProject, body: unknown) => request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).send(body as object);
  const preview = (p: TestProject, body: unknown) => request(t.app).post(`/v1/projects/${p.id}/model/preview`).set(t.admin).send(body as object);

  async function projectWith(model: object) {
    const p = await createProjectWithKey(t, 'qr');
    const res = await putModel(p, model);
    expect(res.status, res.text).toBe(200);
    return p;
  }

  describe('a model with bad rules is refused whole, every problem named with its step', () => {
    const cases: [string, unknown, string][] = [
      ['an unknown step type', { op: 'explode', field: 'x' }, 'rules.1.op'],
      ['a cast to an unknown type', { op: 'cast', field: 'x', to: 'money' }, 'rules.1.to'],
      ['a date format that does not parse its own example', { op: 'cast', field: 'x', to: 'date', formats: ['dd/mm/yyyy'] }, 'rules.1.formats'],
      ['a regular expression with catastrophic backtracking', { op: 'replace', field: 'x', pattern: '(a+)+$', with: '' }, 'rules.1.pattern'],
      ['a map without values', { op: 'map', field: 'country' }, 'rules.1.values'],
    ];
    it.each(cases)('%s: 400 validation_failed, the model and the records unchanged', async (_what, step, path) => {
      const p = await projectWith({ rules: [{ op: 'trim', fields: '*' }] });
      expect((await push(p, { x: ' kept ' })).status).toBe(200);
      const res = await putModel(p, { rules: [{ op: 'trim', fields: '*' }, step] });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      const details = res.body.error.details as { path: string; message: string }[];
      expect(details.map((d) => d.path)).toContain(path);
      expect(details.find((d) => d.path === path)!.message).toMatch(/^step 1 /);
      const model = await getModel(p);
      expect(model.body.version).toBe(1);
      expect(model.body.rules).toEqual([{ op: 'trim', fields: '*' }]);
      const stored = await storedRecords(t, p);
      expect(stored.map((r) => JSON.parse(r.data))).toEqual([{ x: 'kept' }]);
    });

    it('lists the problems of several steps at once', async () => {
      const p = await createProjectWithKey(t, 'qr');
      const res = await putModel(p, { rules: [{ op: 'explode' }, { op: 'trim', fields: '*' }, { op: 'cast', field: 'x', to: 'money' }, { op: 'map', field: 'c' }] });
      expect(res.status).toBe(400);
      expect((res.body.error.details as { path: string }[]).map((d) => d.path)).toEqual(['rules.0.op', 'rules.2.to', 'rules.3.values']);
      expect((await getModel(p)).body.version).toBe(0);
    });

    it('a schema that is not valid JSON Schema: 400, nothing saved', async () => {
      const p = await createProjectWithKey(t, 'qr');
      for (const schema of [{ type: 'object', properties: { n: { type: 'numbr' } } }, { type: 'object', minProperties: 'two' }, { typo: true }]) {
        const res = await putModel(p, { schema });
        expect(res.status, JSON.stringify(schema)).toBe(400);
        expect(res.body.error.code).toBe('validation_failed');
        expect((res.body.error.details as { path: string }[]).map((d) => d.path)).toEqual(['schema']);
      }
      expect((await getModel(p)).body.version).toBe(0);
      expect(await storedRecords(t, p)).toEqual([]);
    });
  });

  it('the saved model shows its rules, schema and onInvalid, never the hash secret', async () => {
    const p = await projectWith({ rules: [{ op: 'hash', fields: ['ssn'] }], schema: { type: 'object' }, onInvalid: 'quarantine' });
    const model = await getModel(p);
    expect(model.body).toMatchObject({ rules: [{ op: 'hash', fields: ['ssn'] }], schema: { type: 'object' }, onInvalid: 'quarantine', version: 1 });
    expect(JSON.stringify(model.body)).not.toMatch(/secret/i);
    const project = await t.storage.control.getProject(p.id);
    expect(project?.model?.hashSecret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    // The secret stays across versions: a customer's pseudonym does not change with the rules.
    expect((await putModel(p, { rules: [{ op: 'hash', fields: ['ssn'] }, { op: 'trim', fields: '*' }] })).status).toBe(200);
    expect((await t.storage.control.getProject(p.id))?.model?.hashSecret).toBe(project?.model?.hashSecret);
  });

  it('keeps any declared value in the stored model: an empty string mapped, odd keys in the schema', async () => {
    const model = {
      rules: [{ op: 'map', field: 'country', values: { '': null, 'U.K.': 'GB' }, otherwise: 'keep' }],
      schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { '': { type: 'string' } } },
    };
    const p = await projectWith(model);
    expect((await getModel(p)).body).toMatchObject(model);
    const res = await push(p, [{ country: '' }, { country: 'U.K.' }]);
    expect(res.body.accepted).toBe(2);
    expect((await storedRecords(t, p)).map((r) => JSON.parse(r.data)).sort((a, b) => String(a.country).localeCompare(String(b.country)))).toEqual([{ country: 'GB' }, { country: null }]);
  });

  describe('pushes', () => {
    it('are cleaned before they are keyed and stored; a refused record stores nothing of itself; filters skip', async () => {
      const p = await projectWith({
        key: { fields: ['email'] },
        rules: [{ op: 'filter', field: 'status', equals: 'active' }, ...RULES, { op: 'hash', fields: ['ssn'] }],
      });
      // As text: the number has more digits than a double keeps.
      const body = `[
        {"email":" Ada@Example.COM ","signup":"23/02/2001","country":"United Kingdom","status":"active","ssn":"123","n":12345678901234567890},
        {"email":"bob@example.com","signup":"2001-02-23","country":"UK","status":"active"},
        {"email":"carol@example.com","status":"closed"}
      ]`;
      const res = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', 'application/json').send(body);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ accepted: 1, rejected: 1, skipped: [2], recordsCreated: 1 });
      expect(res.body.errors).toEqual([
        { index: 1, code: 'rule_failed', step: 3, rule: 'cast', field: 'signup', message: expect.stringContaining('step 3 (cast) on signup') },
      ]);
      const stored = await storedRecords(t, p);
      expect(stored).toHaveLength(1);
      const data = JSON.parse(stored[0]!.data) as Record<string, unknown>;
      expect(data).toMatchObject({ email: 'ada@example.com', signup: '2001-02-23', country: 'GB', status: 'active' });
      expect(data.ssn).toMatch(/^[0-9a-f]{64}$/);
      expect(stored[0]!.data).toContain('"n":12345678901234567890');
    });

    it('a schema violation is schema_invalid naming the field path and keyword, whatever onInvalid says', async () => {
      const p = await projectWith({
        rules: [{ op: 'trim', fields: '*' }],
        schema: { type: 'object', properties: { address: { type: 'object', properties: { country: { enum: ['GB', 'FR'] } } } } },
        onInvalid: 'quarantine',
      });
      const res = await push(p, [{ address: { country: ' DE ' } }, { address: { country: 'FR ' } }]);
      expect(res.body.accepted).toBe(1);
      expect(res.body.errors).toEqual([
        { index: 0, code: 'schema_invalid', rule: 'schema', field: 'address.country', message: expect.stringMatching(/address\.country .*\(schema keyword enum\)/) },
      ]);
      expect((await storedRecords(t, p)).map((r) => JSON.parse(r.data))).toEqual([{ address: { country: 'FR' } }]);
    });
  });

  describe('files', () => {
    it('a row failing the third of five steps is a row error naming that step by its index (2); nothing of it is stored, the other rows are', async () => {
      const p = await projectWith({ key: { fields: ['email'] }, rules: RULES });
      const csv = [
        'email,signup,country',
        ' ada@example.com ,23/02/2001,United Kingdom',
        'bob@example.com,2001-02-23,UK',
        'carol@example.com,01/03/2002,FR',
      ].join('\n');
      const poller = createPoller(t);
      poller.start();
      try {
        const job = await waitForJob(t, p, (await uploadFile(t, p, 'customers.csv', csv, 'text/csv')).jobId);
        expect(job.status).toBe('partial');
        expect(job).toMatchObject({ rowsRead: 3, rowsRejected: 1, recordsWritten: 2 });
        expect(job.errors).toEqual([
          { row: 2, code: 'rule_failed', step: 2, rule: 'cast', field: 'signup', message: expect.stringContaining('step 2 (cast)') },
        ]);
      } finally {
        await poller.stop();
      }
      const stored = (await storedRecords(t, p)).map((r) => JSON.parse(r.data) as Record<string, unknown>);
      expect(stored.sort((a, b) => String(a.email).localeCompare(String(b.email)))).toEqual([
        { email: 'ada@example.com', signup: '2001-02-23', country: 'GB' },
        { email: 'carol@example.com', signup: '2002-03-01', country: 'FR' },
      ]);
      expect(JSON.stringify(stored)).not.toContain('bob');
      // The quarantine keeps the row as it arrived and names step 2, its rule and field.
      const quarantined = await request(t.app).get(`/v1/projects/${p.id}/quarantine`).set(p.auth);
      expect(quarantined.status, quarantined.text).toBe(200);
      expect(quarantined.body.items).toHaveLength(1);
      expect(quarantined.body.items[0]).toMatchObject({
        raw: '{"email":"bob@example.com","signup":"2001-02-23","country":"UK"}',
        reason: { code: 'rule_failed', step: 2, rule: 'cast', field: 'signup' },
      });
    });

    it('filtered rows are counted as rowsSkipped, not as errors', async () => {
      const p = await projectWith({ rules: [{ op: 'filter', field: 'type', in: ['customer'] }] });
      const ndjson = ['{"type":"customer","id":1}', '{"type":"test","id":2}', '{"id":3}'].join('\n');
      const poller = createPoller(t);
      poller.start();
      try {
        const job = await waitForJob(t, p, (await uploadFile(t, p, 'mixed.ndjson', ndjson, 'application/x-ndjson')).jobId);
        expect(job).toMatchObject({ status: 'succeeded', rowsRead: 3, rowsRejected: 0, rowsSkipped: 2, recordsWritten: 1 });
      } finally {
        await poller.stop();
      }
      expect((await storedRecords(t, p)).map((r) => JSON.parse(r.data))).toEqual([{ type: 'customer', id: 1 }]);
    });
  });

  describe('preview', () => {
    it('shows cleaned rows, errors, the key and create or update, for the saved model or a draft; stores nothing', async () => {
      const p = await projectWith({ key: { fields: ['email'] }, rules: RULES });
      expect((await push(p, { email: 'ada@example.com', signup: '01/01/2000' })).body.accepted).toBe(1);
      const before = await storedRecords(t, p);
      const res = await preview(p, {
        records: [
          { email: ' ADA@example.com', signup: '23/02/2001', country: 'UK' },
          { email: 'new@example.com', signup: 'yesterday' },
          { email: 'new@example.com' },
          { email: 'new@example.com' },
        ],
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.modelVersion).toBe(1);
      const rows = res.body.rows as { status: string; action?: string; key?: unknown; error?: { step?: number } }[];
      expect(rows[0]).toMatchObject({ row: 0, status: 'clean', record: { email: 'ada@example.com', signup: '2001-02-23', country: 'GB' }, key: { email: 'ada@example.com' }, action: 'update' });
      expect(rows[1]).toMatchObject({ row: 1, status: 'rejected', error: { code: 'rule_failed', step: 2, rule: 'cast', field: 'signup' } });
      expect(rows[2]).toMatchObject({ status: 'clean', action: 'create' });
      expect(rows[3]).toMatchObject({ status: 'clean', action: 'update', id: (rows[2] as unknown as { id: string }).id });
      expect(res.body.counts).toEqual({ clean: 3, skipped: 0, rejected: 1, create: 1, update: 2 });

      const draft = await preview(p, { records: [{ email: 'x@example.com', country: 'UK' }], model: { key: { fields: ['email'] }, rules: [{ op: 'map', field: 'country', values: { UK: 'United Kingdom' } }] } });
      expect(draft.body).toMatchObject({ modelVersion: null, rows: [{ status: 'clean', record: { country: 'United Kingdom' }, action: 'create' }] });
      const badDraft = await preview(p, { records: [{}], model: { rules: [{ op: 'explode' }] } });
      expect(badDraft.status).toBe(400);
      expect(badDraft.body.error.code).toBe('validation_failed');
      expect(await storedRecords(t, p)).toEqual(before);
      expect((await getModel(p)).body.version).toBe(1);
    });

    it('reads the first rows of an uploaded file as the poller would; another project\'s fileId is 404 file_not_found', async () => {
      const p = await projectWith({ key: { fields: ['email'] }, rules: RULES });
      const other = await createProjectWithKey(t, 'qr');
      const csv = ['email,signup,country', 'ada@example.com,23/02/2001,UK', 'bob@example.com,bad,UK', 'carol@example.com,01/01/2001,FR'].join('\n');
      const { fileId } = await uploadFile(t, p, 'sample.csv', csv, 'text/csv');
      const res = await preview(p, { fileId, limit: 2 });
      expect(res.status, res.text).toBe(200);
      expect(res.body.rows).toHaveLength(2);
      expect(res.body.rows[0]).toMatchObject({ row: 1, status: 'clean', record: { email: 'ada@example.com', signup: '2001-02-23', country: 'GB' }, action: 'create' });
      expect(res.body.rows[1]).toMatchObject({ row: 2, status: 'rejected', error: { step: 2, field: 'signup' } });

      const foreign = await preview(other, { fileId });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('file_not_found');
      const unknown = await preview(p, { fileId: '../../etc/passwd' });
      expect(unknown.status).toBe(404);
      expect(await storedRecords(t, p)).toEqual([]);
      expect(await storedRecords(t, other)).toEqual([]);
    });

    it('is for admins only, and wants records or a fileId', async () => {
      const p = await createProjectWithKey(t, 'qr');
      const byKey = await request(t.app).post(`/v1/projects/${p.id}/model/preview`).set(p.auth).send({ records: [{}] });
      expect(byKey.status).toBe(401);
      const neither = await preview(p, { limit: 5 });
      expect(neither.status).toBe(400);
      expect(neither.body.error.code).toBe('validation_failed');
    });
  });
});
