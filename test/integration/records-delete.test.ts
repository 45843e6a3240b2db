// Deleting one record by id and erasing a customer by key, in both modes (DynamoDB Local,
// SQLite): what goes, what stays, and every refused request checked against storage.
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectWithKey, storedRecords, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;

describe.each(MODES)('deleting records (%s mode)', (mode) => {
  let t: TestApp;
  const logLines: string[] = [];
  beforeAll(async () => {
    const { Writable } = await import('node:stream');
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString().split('\n').filter((line) => line.length > 0));
        done();
      },
    });
    t = await createTestApp({ mode, env: { INTAKE_LOG_LEVEL: 'info' }, logStream });
  });
  afterAll(async () => t?.close());

  const push = (p: TestProject, body: unknown, headers: Record<string, string> = {}) =>
    request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set(headers).send(body as object);
  const auditOf = (action: string) =>
    logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.event === 'audit' && entry.action === action);

  async function keyedProject(): Promise<TestProject> {
    const p = await createProjectWithKey(t, 'rd');
    const res = await request(t.app)
      .put(`/v1/projects/${p.id}/model`)
      .set(t.admin)
      .send({ key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } }, merge: 'merge', indexes: ['country'] });
    expect(res.status, res.text).toBe(200);
    return p;
  }

  async function readOnlyKey(p: TestProject): Promise<{ 'X-API-Key': string }> {
    const res = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'reader', scopes: ['records:read'] });
    expect(res.status).toBe(201);
    return { 'X-API-Key': res.body.key as string };
  }

  describe('DELETE /records/{recordId}', () => {
    it('removes the record alone (204) and the record then reads as 404', async () => {
      const p = await createProjectWithKey(t, 'rd');
      const pushed = await push(p, [{ a: 1 }, { b: 2 }]);
      const [first, second] = (pushed.body.records as { id: string }[]).map((r) => r.id);
      const res = await request(t.app).delete(`/v1/projects/${p.id}/records/${first}`).set(p.auth);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await storedRecords(t, p)).map((r) => r.id)).toEqual([second]);
      const read = await request(t.app).get(`/v1/projects/${p.id}/records/${first}`).set(p.auth);
      expect(read.status).toBe(404);
      expect(auditOf('record_deleted').some((e) => e.recordId === first && e.projectId === p.id)).toBe(true);
    });

    it('answers 404 record_not_found for an unknown id, and deletes nothing', async () => {
      const p = await createProjectWithKey(t, 'rd');
      await push(p, [{ a: 1 }]);
      for (const id of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'x'.repeat(300)]) {
        const res = await request(t.app).delete(`/v1/projects/${p.id}/records/${id}`).set(p.auth);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('record_not_found');
      }
      expect(await storedRecords(t, p)).toHaveLength(1);
    });

    it('needs records:write (403 insufficient_scope) and refuses unknown parameters', async () => {
      const p = await createProjectWithKey(t, 'rd');
      const id = ((await push(p, { a: 1 })).body.records as { id: string }[])[0]!.id;
      const reader = await readOnlyKey(p);
      const refused = await request(t.app).delete(`/v1/projects/${p.id}/records/${id}`).set(reader);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('insufficient_scope');
      const extra = await request(t.app).delete(`/v1/projects/${p.id}/records/${id}`).query({ force: 'true' }).set(p.auth);
      expect(extra.status).toBe(400);
      expect(extra.body.error.code).toBe('unknown_parameter');
      expect((await storedRecords(t, p)).map((r) => r.id)).toEqual([id]);
    });

    it('takes a customer record out of its index: a lookup by the indexed field no longer finds it', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'a@x.io', country: 'NO' }, { email: 'b@x.io', country: 'NO' }]);
      const before = await request(t.app).get(`/v1/projects/${p.id}/records`).query({ 'where.country': 'NO' }).set(p.auth);
      expect(before.body.items).toHaveLength(2);
      const id = (before.body.items as { id: string; data: { email: string } }[]).find((r) => r.data.email === 'a@x.io')!.id;
      expect((await request(t.app).delete(`/v1/projects/${p.id}/records/${id}`).set(p.auth)).status).toBe(204);
      const after = await request(t.app).get(`/v1/projects/${p.id}/records`).query({ 'where.country': 'NO' }).set(p.auth);
      expect((after.body.items as { data: { email: string } }[]).map((r) => r.data.email)).toEqual(['b@x.io']);
      const page = await t.storage.records.queryIndex(p.project.tableName, {
        field: 'country', slot: 0, match: { equals: 'NO' }, limit: 10,
      });
      expect(page.items.map((r) => r.id)).not.toContain(id);
    });
  });

  describe('DELETE /records/by-key (erase a customer)', () => {
    const erase = (p: TestProject, query: Record<string, string | string[]>, auth: object = p.auth) =>
      request(t.app).delete(`/v1/projects/${p.id}/records/by-key`).query(query).set(auth as Record<string, string>);
    const claimOf = async (p: TestProject, key: string) =>
      t.storage.control.claimIdempotencyKey(p.id, key, { bodyHash: 'probe', firstSeenAt: new Date().toISOString() });

    it('removes the record, its provenance and the claims of the pushes that wrote it, and says what went', async () => {
      const p = await keyedProject();
      const first = await push(p, [{ email: 'Alice@Example.com', name: 'Alice', country: 'NO' }], { 'Idempotency-Key': 'crm-1' });
      expect(first.status).toBe(200);
      await push(p, [{ email: 'alice@example.com ', plan: 'pro' }], { 'Idempotency-Key': 'billing-7' });
      await push(p, [{ email: 'bob@example.com', name: 'Bob' }], { 'Idempotency-Key': 'crm-2' });
      const res = await erase(p, { email: ' ALICE@example.com' });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        recordId: first.body.records[0].id,
        fieldsErased: 4,
        tracesRemoved: { provenanceEntries: 4, appliedMarks: 2, idempotencyClaims: 2, quarantineEntries: 0 },
      });
      const left = await storedRecords(t, p);
      expect(left.map((r) => JSON.parse(r.data).email)).toEqual(['bob@example.com']);
      // Claims of Alice's pushes are gone (a probe claims them anew); Bob's stays.
      expect((await claimOf(p, 'crm-1')).bodyHash).toBe('probe');
      expect((await claimOf(p, 'billing-7')).bodyHash).toBe('probe');
      expect((await claimOf(p, 'crm-2')).bodyHash).not.toBe('probe');
      const lookup = await request(t.app).get(`/v1/projects/${p.id}/records/by-key`).query({ email: 'alice@example.com' }).set(p.auth);
      expect(lookup.status).toBe(404);
      const byIndex = await request(t.app).get(`/v1/projects/${p.id}/records`).query({ 'where.country': 'NO' }).set(p.auth);
      expect(byIndex.body.items).toEqual([]);
    });

    it('removes the quarantined rows that carry the customer’s key, and only those', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'hana@x.io', name: 'Hana' }]);
      const at = new Date().toISOString();
      const entry = (id: string, raw: string | null) => ({
        id, projectId: p.id, raw, reason: { code: 'schema_violation', message: 'age must be a number' },
        source: { type: 'push' as const, keyId: 'k', requestId: 'r', index: 0 }, modelVersion: 1, createdAt: at, expiresAt: Date.now() + 3_600_000,
      });
      await t.storage.control.quarantine.putEntries(p.id, [
        entry('q-1', JSON.stringify({ email: ' HANA@x.io', age: 'old' })),
        entry('q-2', JSON.stringify({ email: 'ivan@x.io', age: 'young' })),
        entry('q-3', 'not json {'),
        entry('q-4', null),
      ]);
      const res = await erase(p, { email: 'hana@x.io' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.tracesRemoved.quarantineEntries).toBe(1);
      const left = await t.storage.control.quarantine.listEntries(p.id, { limit: 10, now: Date.now() });
      expect(left.items.map((e) => e.id).sort()).toEqual(['q-2', 'q-3', 'q-4']);
      // A customer known only to the quarantine is erased from it too.
      const onlyQuarantined = await erase(p, { email: 'ivan@x.io' });
      expect(onlyQuarantined.status).toBe(200);
      expect(onlyQuarantined.body).toMatchObject({ fieldsErased: 0, tracesRemoved: { quarantineEntries: 1 } });
      expect(await storedRecords(t, p)).toEqual([]);
    });

    it('writes an audit event with who and when, and none of the erased values', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'carol@secret-domain.io', name: 'Carol Unique' }]);
      const res = await erase(p, { email: 'carol@secret-domain.io' });
      expect(res.status).toBe(200);
      const events = auditOf('customer_erased').filter((e) => e.projectId === p.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ recordId: res.body.recordId, actor: 'key', keyId: expect.any(String), at: expect.any(String) });
      const text = JSON.stringify(events[0]);
      expect(text).not.toContain('carol');
      expect(text).not.toContain('Carol Unique');
    });

    it('answers 404 record_not_found for an unknown customer, and erases nothing', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'dan@x.io' }]);
      const res = await erase(p, { email: 'nobody@x.io' });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('record_not_found');
      expect(await storedRecords(t, p)).toHaveLength(1);
    });

    it('refuses a missing, repeated, empty or extra key parameter as the lookup does, and erases nothing', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'erin@x.io' }]);
      const cases: [Record<string, string | string[]>, string][] = [
        [{}, 'invalid_key_query'],
        [{ email: ['erin@x.io', 'erin@x.io'] }, 'invalid_key_query'],
        [{ email: ' ' }, 'invalid_key_query'],
        [{ email: 'erin@x.io', name: 'Erin' }, 'unknown_parameter'],
      ];
      for (const [query, code] of cases) {
        const res = await erase(p, query);
        expect(res.status, JSON.stringify(query)).toBe(400);
        expect(res.body.error.code, JSON.stringify(query)).toBe(code);
      }
      expect(await storedRecords(t, p)).toHaveLength(1);
    });

    it('answers 409 project_not_keyed on a project without a customer key, and erases nothing', async () => {
      const p = await createProjectWithKey(t, 'rd');
      await push(p, [{ email: 'frank@x.io' }]);
      const res = await erase(p, { email: 'frank@x.io' });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('project_not_keyed');
      expect(await storedRecords(t, p)).toHaveLength(1);
    });

    it('needs records:write: a read-only key gets 403 and the customer stays', async () => {
      const p = await keyedProject();
      await push(p, [{ email: 'gina@x.io' }], { 'Idempotency-Key': 'g-1' });
      const res = await erase(p, { email: 'gina@x.io' }, await readOnlyKey(p));
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('insufficient_scope');
      expect(await storedRecords(t, p)).toHaveLength(1);
      const body = JSON.stringify([{ email: 'gina@x.io' }]);
      const expected = createHash('sha256').update('json').update('\0').update(body).digest('hex');
      expect((await claimOf(p, 'g-1')).bodyHash).toBe(expected);
    });
  });
});
