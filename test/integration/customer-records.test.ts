// Customer records: the record model, upserts from pushes and files, merge policies,
// lookups by key. Every scenario runs in both modes (DynamoDB Local, SQLite), and every
// refused request is checked against what the table holds afterwards.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPoller, createProjectWithKey, storedRecords, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;

describe.each(MODES)('customer records (%s mode)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode });
  });
  afterAll(async () => t?.close());

  const putModel = (p: TestProject, body: unknown) => request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send(body as object);
  const getModel = (p: TestProject) => request(t.app).get(`/v1/projects/${p.id}/model`).set(t.admin);
  const push = (p: TestProject, body: unknown, headers: Record<string, string> = {}) =>
    request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set(headers).send(body as object | string);
  const byKey = (p: TestProject, query: Record<string, string>) =>
    request(t.app).get(`/v1/projects/${p.id}/records/by-key`).query(query).set(p.auth);

  async function keyedProject(model: object = { key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'merge' }) {
    const p = await createProjectWithKey(t, 'cr');
    const res = await putModel(p, model);
    expect(res.status, res.text).toBe(200);
    return p;
  }

  describe('the model', () => {
    it('reads as version 0 with no key until one is set, then as set', async () => {
      const p = await createProjectWithKey(t, 'cr');
      const before = await getModel(p);
      expect(before.status).toBe(200);
      expect(before.body).toEqual({ key: null, merge: 'merge', indexes: [], version: 0, updatedAt: null });
      const put = await putModel(p, { key: { fields: ['email'] }, merge: 'replace', indexes: ['country'] });
      expect(put.status, put.text).toBe(200);
      expect(put.body).toMatchObject({ key: { fields: ['email'] }, merge: 'replace', indexes: ['country'], version: 1 });
      expect((await getModel(p)).body).toEqual(put.body);
    });

    it('refuses an invalid model whole, listing every problem, and keeps the old one', async () => {
      const p = await keyedProject();
      const res = await putModel(p, {
        key: { fields: ['a', 'b', 'c', 'd', 'e'], normalize: { a: ['soundex'] } },
        merge: 'newest',
        indexes: ['address..country', '.zip', 'city.'],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['key.fields', 'key.normalize.a.0', 'merge', 'indexes.0', 'indexes.1', 'indexes.2']));
      expect((await getModel(p)).body.version).toBe(1);
    });

    it('refuses unknown fields and indexes without a key', async () => {
      const p = await createProjectWithKey(t, 'cr');
      const unknown = await putModel(p, { key: { fields: ['email'] }, colour: 'blue' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('validation_failed');
      const noKey = await putModel(p, { indexes: ['country'] });
      expect(noKey.status).toBe(400);
      expect((await getModel(p)).body.version).toBe(0);
    });

    it('refuses to change the key of a project that holds records (409 model_locked); merge and indexes still change', async () => {
      const p = await keyedProject();
      expect((await push(p, { email: 'a@example.com' })).status).toBe(200);
      const locked = await putModel(p, { key: { fields: ['phone'] }, merge: 'merge' });
      expect(locked.status).toBe(409);
      expect(locked.body.error.code).toBe('model_locked');
      const normalizers = await putModel(p, { key: { fields: ['email'] }, merge: 'merge' });
      expect(normalizers.body.error.code).toBe('model_locked');
      const policy = await putModel(p, { key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'replace' });
      expect(policy.status, policy.text).toBe(200);
      expect(policy.body.version).toBe(2);
      expect(await storedRecords(t, p)).toHaveLength(1);
    });

    it('an appending project with records cannot get a key either', async () => {
      const p = await createProjectWithKey(t, 'cr');
      expect((await push(p, { email: 'a@example.com' })).status).toBe(200);
      const res = await putModel(p, { key: { fields: ['email'] } });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('model_locked');
      expect((await getModel(p)).body.version).toBe(0);
    });

    it('refuses a change based on an old version, and concurrent changes never lose one', async () => {
      const p = await keyedProject();
      const stale = await putModel(p, { version: 0, key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'first' });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe('model_version_conflict');
      const model = { key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'merge' };
      const results = await Promise.all(Array.from({ length: 6 }, () => putModel(p, model)));
      const ok = results.filter((r) => r.status === 200).length;
      for (const r of results) if (r.status !== 200) expect(r.body.error.code).toBe('model_version_conflict');
      expect((await getModel(p)).body.version).toBe(1 + ok);
    });

    it('is for admins only', async () => {
      const p = await createProjectWithKey(t, 'cr');
      const res = await request(t.app).put(`/v1/projects/${p.id}/model`).set(p.auth).send({ key: { fields: ['email'] } });
      expect(res.status).toBe(401);
      expect((await getModel(p)).body.version).toBe(0);
    });
  });

  describe('pushes upsert', () => {
    it('reports created, updated, unchanged and rejected per record, and stores one record per customer', async () => {
      const p = await keyedProject();
      const first = await push(p, [
        { email: ' Alice@Example.com ', name: 'Alice' },
        { name: 'no key' },
        { email: { address: 'x' } },
        { email: '   ' },
        { email: 'alice@example.com', phone: '+44 1' },
        { email: 'bob@example.com' },
      ]);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ accepted: 3, rejected: 3, recordsCreated: 2, recordsUpdated: 1, recordsUnchanged: 0 });
      expect(first.body.records.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([
        [0, 'created'],
        [4, 'updated'],
        [5, 'created'],
      ]);
      expect(first.body.records[0].id).toBe(first.body.records[1].id);
      expect(first.body.errors.map((e: { index: number; code: string }) => [e.index, e.code])).toEqual([
        [1, 'missing_key'],
        [2, 'invalid_key'],
        [3, 'missing_key'],
      ]);
      const again = await push(p, { email: 'alice@example.com', phone: '+44 1' });
      expect(again.body.records[0].status).toBe('unchanged');
      const recased = await push(p, { email: 'ALICE@example.com' });
      expect(recased.body.records[0]).toMatchObject({ id: first.body.records[0].id, status: 'updated' });

      const stored = await storedRecords(t, p);
      expect(stored).toHaveLength(2);
      const alice = await byKey(p, { email: 'alice@EXAMPLE.com' });
      expect(alice.status, alice.text).toBe(200);
      expect(alice.body).toMatchObject({
        id: first.body.records[0].id,
        key: { email: 'alice@example.com' },
        data: { email: 'ALICE@example.com', name: 'Alice', phone: '+44 1' },
        version: 3,
      });
      expect(Object.keys(alice.body).sort()).toEqual(['createdAt', 'data', 'id', 'key', 'source', 'updatedAt', 'version']);
    });

    it('merge: nested objects merge, arrays are replaced, null clears', async () => {
      const p = await keyedProject();
      // Sent as text: a JavaScript number would already have lost the big integer's digits.
      const exact = '{"email":"n@example.com","address":{"city":"Leeds","zip":"LS1"},"tags":["a","b"],"note":"x","big":12345678901234567890}';
      await push(p, exact, { 'Content-Type': 'application/json' });
      await push(p, { email: 'n@example.com', address: { city: 'York' }, tags: ['c'], note: null });
      const res = await byKey(p, { email: 'n@example.com' });
      expect(res.text).toContain('"data":{"email":"n@example.com","address":{"city":"York","zip":"LS1"},"tags":["c"],"big":12345678901234567890}');
      expect(res.body.version).toBe(2);
    });

    it('a key field without normalizers is trimmed, NFC-composed and lowercased; [] compares exactly', async () => {
      const loose = await keyedProject({ key: { fields: ['email'] }, merge: 'merge' });
      await push(loose, { email: ' Zoë@Example.com', a: 1 });
      const same = await push(loose, { email: 'zoe\u0308@example.COM ', b: 2 });
      expect(same.body.records[0].status).toBe('updated');
      expect((await byKey(loose, { email: 'ZOË@example.com' })).body.data).toMatchObject({ a: 1, b: 2 });
      const exact = await keyedProject({ key: { fields: ['email'], normalize: { email: [] } }, merge: 'merge' });
      await push(exact, { email: 'Zoe@example.com' });
      expect((await push(exact, { email: 'zoe@example.com' })).body.records[0].status).toBe('created');
      expect((await byKey(exact, { email: 'zoe@example.com' })).status).toBe(200);
      expect((await byKey(exact, { email: 'ZOE@example.com' })).status).toBe(404);
    });

    it('replace: the newer write wins whole; first: the first write wins and later ones add provenance', async () => {
      const replace = await keyedProject({ key: { fields: ['email'] }, merge: 'replace' });
      await push(replace, { email: 'r@example.com', a: 1 });
      await push(replace, { email: 'r@example.com', b: 2 });
      expect((await byKey(replace, { email: 'r@example.com' })).body.data).toEqual({ email: 'r@example.com', b: 2 });

      const first = await keyedProject({ key: { fields: ['email'] }, merge: 'first' });
      await push(first, { email: 'f@example.com', a: 1 });
      const later = await push(first, { email: 'f@example.com', a: 2, b: 3 });
      expect(later.body.records[0].status).toBe('unchanged');
      const res = await byKey(first, { email: 'f@example.com', provenance: 'true' });
      expect(res.body.data).toEqual({ email: 'f@example.com', a: 1 });
      expect(res.body.version).toBe(1);
      expect(res.body.provenance.a.lastSeen.source.type).toBe('api');
    });

    it('a retried push with the same Idempotency-Key applies nothing twice', async () => {
      const p = await keyedProject({ key: { fields: ['email'] }, merge: 'replace' });
      const headers = { 'Idempotency-Key': 'crm-sync-1' };
      const body = [{ email: 'i@example.com', v: 1 }];
      expect((await push(p, body, headers)).body.records[0].status).toBe('created');
      await push(p, { email: 'i@example.com', v: 2 });
      const retry = await push(p, body, headers);
      expect(retry.body.records[0].status).toBe('unchanged');
      const res = await byKey(p, { email: 'i@example.com' });
      expect(res.body.data.v).toBe(2);
      expect(res.body.version).toBe(2);
    });

    it('composite keys with dot paths and the digits normalizer', async () => {
      const p = await keyedProject({ key: { fields: ['contact.phone', 'country'], normalize: { 'contact.phone': ['digits'] } }, merge: 'merge' });
      await push(p, { contact: { phone: '+44 (20) 7946-0958' }, country: 'GB', a: 1 });
      await push(p, { contact: { phone: '4420 7946 0958' }, country: 'GB', b: 2 });
      const res = await byKey(p, { 'contact.phone': '442079460958', country: 'GB' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ a: 1, b: 2 });
      expect(res.body.key).toEqual({ 'contact.phone': '442079460958', country: 'gb' });
    });
  });

  describe('lookups by key', () => {
    it('404 record_not_found, 400 for a missing or unknown parameter, 400 on a project without key', async () => {
      const p = await keyedProject();
      await push(p, { email: 'k@example.com' });
      const missing = await byKey(p, { email: 'nobody@example.com' });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('record_not_found');
      const noParam = await byKey(p, {});
      expect(noParam.status).toBe(400);
      expect(noParam.body.error.code).toBe('invalid_key_query');
      const extra = await byKey(p, { email: 'k@example.com', name: 'K' });
      expect(extra.status).toBe(400);
      // A parameter that is not a key field is refused as on every route, naming the accepted ones.
      expect(extra.body.error.code).toBe('unknown_parameter');
      expect(extra.body.error.message).toContain('"name"');
      expect(extra.body.error.message).toContain('email, provenance');
      const repeated = await request(t.app).get(`/v1/projects/${p.id}/records/by-key?email=a&email=b`).set(p.auth);
      expect(repeated.status).toBe(400);
      expect(repeated.body.error.code).toBe('invalid_key_query');
      const unkeyed = await createProjectWithKey(t, 'cr');
      const res = await byKey(unkeyed, { email: 'k@example.com' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('model_has_no_key');
    });

    it('never finds another project\'s customer, and needs records:read', async () => {
      const a = await keyedProject();
      const b = await keyedProject();
      await push(a, { email: 'shared@example.com', secret: 'a' });
      expect((await byKey(b, { email: 'shared@example.com' })).status).toBe(404);
      const crossKey = await request(t.app).get(`/v1/projects/${a.id}/records/by-key`).query({ email: 'shared@example.com' }).set(b.auth);
      expect(crossKey.status).toBe(403);
      const writeOnly = await request(t.app).post(`/v1/projects/${a.id}/keys`).set(t.admin).send({ name: 'w', scopes: ['records:write'] });
      const denied = await request(t.app)
        .get(`/v1/projects/${a.id}/records/by-key`)
        .query({ email: 'shared@example.com' })
        .set('X-API-Key', writeOnly.body.key as string);
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('insufficient_scope');
    });
  });

  describe('indexes', () => {
    const where = (p: TestProject, query: Record<string, string>) =>
      request(t.app).get(`/v1/projects/${p.id}/records`).query(query).set(p.auth);

    it('finds customers by an indexed field, equality and prefix, page by page, never another project\'s', async () => {
      const p = await keyedProject({ key: { fields: ['email'] }, merge: 'merge', indexes: ['country', 'address.city'] });
      const other = await keyedProject({ key: { fields: ['email'] }, merge: 'merge', indexes: ['country'] });
      await push(other, { email: 'x@example.com', country: 'GB' });
      const people = Array.from({ length: 7 }, (_, i) => ({ email: `p${i}@example.com`, country: i % 2 === 0 ? 'GB' : 'FR', address: { city: i < 3 ? 'London' : 'Lyon' } }));
      expect((await push(p, people)).body.accepted).toBe(7);
      await push(p, { email: 'p1@example.com', country: 'GB' });

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await where(p, cursor === null ? { 'where.country': 'GB', limit: '2' } : { 'where.country': 'GB', limit: '2', cursor });
        expect(res.status, res.text).toBe(200);
        seen.push(...(res.body.items as { data: { email: string } }[]).map((r) => r.data.email));
        cursor = res.body.nextCursor as string | null;
      } while (cursor !== null);
      expect(seen.sort()).toEqual(['p0@example.com', 'p1@example.com', 'p2@example.com', 'p4@example.com', 'p6@example.com']);

      const prefix = await where(p, { 'where.address.city.prefix': 'L' });
      expect(prefix.body.items).toHaveLength(7);
      const lon = await where(p, { 'where.address.city.prefix': 'Lon' });
      expect(lon.body.items.map((r: { data: { email: string } }) => r.data.email).sort()).toEqual(['p0@example.com', 'p1@example.com', 'p2@example.com']);
      expect((await where(p, { 'where.country': 'gb' })).body.items).toEqual([]);
    });

    it('400 field_not_indexed naming the indexed fields; one filter at a time; cursors bound to their filter', async () => {
      const p = await keyedProject({ key: { fields: ['email'] }, merge: 'merge', indexes: ['country'] });
      await push(p, [{ email: 'a@example.com', country: 'GB', city: 'Leeds' }, { email: 'b@example.com', country: 'GB' }]);
      const res = await where(p, { 'where.city': 'Leeds' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('field_not_indexed');
      expect(res.body.error.message).toContain('country');
      const two = await where(p, { 'where.country': 'GB', 'where.country.prefix': 'G' });
      expect(two.status).toBe(400);
      expect(two.body.error.code).toBe('validation_failed');
      const empty = await where(p, { 'where.country': '' });
      expect(empty.body.error.code).toBe('validation_failed');
      const first = await where(p, { 'where.country': 'GB', limit: '1' });
      expect(first.body.nextCursor).not.toBeNull();
      const foreign = await where(p, { 'where.country': 'FR', cursor: first.body.nextCursor as string });
      expect(foreign.body.error.code).toBe('invalid_cursor');
      const unkeyed = await createProjectWithKey(t, 'cr');
      const none = await where(unkeyed, { 'where.country': 'GB' });
      expect(none.status).toBe(400);
      expect(none.body.error.code).toBe('field_not_indexed');
    });

    it('an index added to a project holding records is backfilled by a job with progress', async () => {
      const p = await keyedProject();
      await push(p, Array.from({ length: 30 }, (_, i) => ({ email: `b${i}@example.com`, tier: i < 10 ? 'gold' : 'free' })));
      const before = await where(p, { 'where.tier': 'gold' });
      expect(before.body.error.code).toBe('field_not_indexed');
      const put = await putModel(p, { key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'merge', indexes: ['tier'] });
      expect(put.status, put.text).toBe(200);
      expect(typeof put.body.backfillJobId).toBe('string');
      const job = await waitForJob(t, p, put.body.backfillJobId as string);
      expect(job).toMatchObject({ status: 'succeeded', rowsRead: 30, recordsWritten: 30, fileName: '(index backfill)' });
      const gold = await where(p, { 'where.tier': 'gold', limit: '100' });
      expect(gold.body.items).toHaveLength(10);
      // Changing only the merge policy starts no backfill.
      const again = await putModel(p, { key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'replace', indexes: ['tier'] });
      expect(again.body.backfillJobId).toBeUndefined();
    });
  });

  describe('files upsert', () => {
    it('a CSV and an XML with the same customer in another case land on the pushed record, with provenance per field', async () => {
      const p = await keyedProject();
      const pushed = await push(p, { email: 'Alice@Example.com', crmId: 'C-1' });
      const csv = 'email,plan,country\nALICE@example.com,gold,GB\nbob@example.com,free,FR\n,none,XX\nalice@example.com ,platinum,GB\n';
      const xml = '<customers><customer><email>alice@EXAMPLE.com</email><ticket>T-9</ticket></customer></customers>';
      const poller = createPoller(t);
      poller.start();
      try {
        const csvJob = await waitForJob(t, p, (await uploadFile(t, p, 'billing.csv', csv, 'text/csv')).jobId);
        expect(csvJob).toMatchObject({ status: 'partial', rowsRead: 4, recordsWritten: 3, rowsRejected: 1 });
        expect(csvJob).toMatchObject({ recordsCreated: 1, recordsUpdated: 2, recordsUnchanged: 0 });
        expect(csvJob.errors).toEqual([{ row: 3, code: 'missing_key', message: 'The key field email is empty.' }]);
        const ndjson = '{"email":{"a":1},"x":1}\n{"email":["a"]}\n{"email":"carol@example.com","x":2}\n{"x":3}\n';
        const badKeys = await waitForJob(t, p, (await uploadFile(t, p, 'keys.ndjson', ndjson, 'application/x-ndjson')).jobId);
        expect(badKeys).toMatchObject({ status: 'partial', rowsRead: 4, recordsWritten: 1, rowsRejected: 3, recordsCreated: 1 });
        expect(badKeys.errors.map((e) => [e.row, e.code])).toEqual([[1, 'invalid_key'], [2, 'invalid_key'], [4, 'missing_key']]);
        expect((await byKey(p, { email: 'carol@example.com' })).body.data).toEqual({ email: 'carol@example.com', x: 2 });
        const xmlJob = await waitForJob(t, p, (await uploadFile(t, p, 'support.xml', xml, 'application/xml')).jobId);
        expect(xmlJob).toMatchObject({ status: 'succeeded', recordsUpdated: 1 });

        const res = await byKey(p, { email: 'alice@example.com', provenance: 'true' });
        expect(res.status, res.text).toBe(200);
        expect(res.body.id).toBe(pushed.body.records[0].id);
        expect(res.body.data).toEqual({ email: 'alice@EXAMPLE.com', crmId: 'C-1', plan: 'platinum', country: 'GB', ticket: 'T-9' });
        expect(res.body.version).toBe(4);
        const provenance = res.body.provenance as Record<string, { source: Record<string, unknown>; at: string }>;
        expect(provenance.crmId!.source).toMatchObject({ type: 'api' });
        expect(provenance.plan!.source).toMatchObject({ type: 'file', fileName: 'billing.csv', row: 4, jobId: csvJob.id });
        expect(provenance.ticket!.source).toMatchObject({ type: 'file', fileName: 'support.xml', row: 1, jobId: xmlJob.id });
        expect(provenance.email!.source).toMatchObject({ fileName: 'support.xml' });
        expect(await storedRecords(t, p)).toHaveLength(3);

        const byId = await request(t.app).get(`/v1/projects/${p.id}/records/${res.body.id}`).set(p.auth);
        expect(byId.body).toEqual({ ...res.body, provenance: undefined });
        const list = await request(t.app).get(`/v1/projects/${p.id}/records`).set(p.auth);
        expect(list.body.items).toHaveLength(3);
        expect(list.body.items[0]).toHaveProperty('key');
      } finally {
        await poller.stop();
      }
    });
  });
});
