// A key repeated with different values in one record of an array push is that record's
// fault alone: it is rejected duplicate_key and the records around it are stored, with or
// without a customer key model, as an NDJSON push already did line by line.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectWithKey, type TestProject } from '../support/ingest.js';
import { storedRecordCount } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ARRAY = '[{"a":1},{"b":1,"b":2},{"c":1}]';

describe('duplicate keys in a push', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const push = (p: TestProject, body: string, contentType = 'application/json') =>
    request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', contentType).send(body);

  const storedData = async (p: TestProject): Promise<string[]> => {
    const page = await t.storage.records.listRecords(p.project.tableName, { limit: 100 });
    return page.items.map((r) => JSON.stringify(JSON.parse(r.data) as unknown)).sort();
  };

  it('an array push rejects the record with the duplicate key alone', async () => {
    const p = await createProjectWithKey(t, 'dup');
    const res = await push(p, ARRAY);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(res.body.errors).toEqual([{ index: 1, code: 'duplicate_key', message: expect.stringContaining("'b'") }]);
    expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 2]);
    expect(await storedData(p)).toEqual(['{"a":1}', '{"c":1}']);
  });

  it('a keyed project stores the other two customers', async () => {
    const p = await createProjectWithKey(t, 'dupk');
    const model = await request(t.app).put(`/v1/projects/${p.id}/model`).set(t.admin).send({ key: { fields: ['email'] }, merge: 'merge' });
    expect(model.status).toBe(200);
    const res = await push(p, '[{"email":"a@x.io"},{"email":"b@x.io","n":1,"n":2},{"email":"c@x.io"}]');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 1, recordsCreated: 2 });
    expect(res.body.errors).toEqual([{ index: 1, code: 'duplicate_key', message: expect.stringContaining("'n'") }]);
    expect(res.body.records.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([[0, 'created'], [2, 'created']]);
    expect(await storedRecordCount(t, p)).toBe(2);
    const found = await request(t.app).get(`/v1/projects/${p.id}/records/by-key?email=c@x.io`).set(p.auth);
    expect(found.status).toBe(200);
    const missing = await request(t.app).get(`/v1/projects/${p.id}/records/by-key?email=b@x.io`).set(p.auth);
    expect(missing.status).toBe(404);
  });

  it('an NDJSON line with a duplicate key is rejected with the same code', async () => {
    const p = await createProjectWithKey(t, 'dupn');
    const res = await push(p, '{"a":1}\n{"b":1,"b":2}\n{"c":1}\n', 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([{ index: 1, code: 'duplicate_key', message: expect.any(String) }]);
    expect(await storedData(p)).toEqual(['{"a":1}', '{"c":1}']);
  });

  it('a single object with a duplicate key is refused whole, and a syntax error in an element still refuses the body', async () => {
    const p = await createProjectWithKey(t, 'dups');
    // The body is that one record: refused as before, with the documented whole-body code.
    const single = await push(p, '{"b":1,"b":2}');
    expect(single.status).toBe(400);
    expect(single.body.error.code).toBe('malformed_json');
    const broken = await push(p, '[{"a":1},{"b":1,"b":2},{c}]');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('malformed_json');
    expect(await storedRecordCount(t, p)).toBe(0);
  });
});
