// Unknown query parameters are refused on every route, 400 unknown_parameter naming the
// parameter and the ones the route accepts, instead of being ignored: `records?email=x`
// used to answer the unfiltered first page as if the filter had worked.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectWithKey, type TestProject } from '../support/ingest.js';
import { storedJobCount, storedRecordCount } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('unknown query parameters', () => {
  let t: TestApp;
  let p: TestProject;
  let keyed: TestProject;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProjectWithKey(t, 'qp');
    keyed = await createProjectWithKey(t, 'qpk');
    const model = await request(t.app)
      .put(`/v1/projects/${keyed.id}/model`)
      .set(t.admin)
      .send({ key: { fields: ['email'] }, merge: 'merge', indexes: ['country'] });
    expect(model.status, model.text).toBe(200);
    const pushed = await request(t.app)
      .post(`/v1/projects/${keyed.id}/records`)
      .set(keyed.auth)
      .send([{ email: 'ann@example.com', country: 'NL' }, { email: 'bo@example.com', country: 'FR' }]);
    expect(pushed.status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  const expectUnknown = (res: request.Response, name: string, accepts: string) => {
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('unknown_parameter');
    expect(res.body.error.message).toContain(`"${name}"`);
    expect(res.body.error.message).toContain(accepts);
  };

  it('GET records?email=x is refused, naming what the listing accepts', async () => {
    const res = await request(t.app).get(`/v1/projects/${keyed.id}/records?email=ann@example.com`).set(keyed.auth);
    expectUnknown(res, 'email', 'limit, cursor, provenance, where.<field>, where.<field>.prefix');
  });

  it('the listing still takes its own parameters, where. filters included', async () => {
    const filtered = await request(t.app).get(`/v1/projects/${keyed.id}/records?where.country=NL&limit=10`).set(keyed.auth);
    expect(filtered.status, filtered.text).toBe(200);
    expect(filtered.body.items.map((r: { data: { email: string } }) => r.data.email)).toEqual(['ann@example.com']);
    const prefixed = await request(t.app).get(`/v1/projects/${keyed.id}/records?where.country.prefix=F`).set(keyed.auth);
    expect(prefixed.status, prefixed.text).toBe(200);
    expect(prefixed.body.items).toHaveLength(1);
    const withProvenance = await request(t.app).get(`/v1/projects/${keyed.id}/records?provenance=true`).set(keyed.auth);
    expect(withProvenance.status, withProvenance.text).toBe(200);
    expect(withProvenance.body.items).toHaveLength(2);
  });

  it('by-key accepts the key fields and provenance, nothing else', async () => {
    const found = await request(t.app).get(`/v1/projects/${keyed.id}/records/by-key?email=ann@example.com&provenance=true`).set(keyed.auth);
    expect(found.status, found.text).toBe(200);
    const res = await request(t.app).get(`/v1/projects/${keyed.id}/records/by-key?email=ann@example.com&phone=1`).set(keyed.auth);
    expectUnknown(res, 'phone', 'email, provenance');
  });

  it('a record by id accepts provenance alone', async () => {
    const res = await request(t.app).get(`/v1/projects/${p.id}/records/01HZZZZZZZZZZZZZZZZZZZZZZZ?fields=email`).set(p.auth);
    expectUnknown(res, 'fields', 'this route accepts: provenance.');
  });

  it('a push with an unknown parameter stores nothing', async () => {
    const before = await storedRecordCount(t, p);
    const res = await request(t.app).post(`/v1/projects/${p.id}/records?dryRun=true`).set(p.auth).send({ a: 1 });
    expectUnknown(res, 'dryRun', 'takes no query parameters');
    expect(await storedRecordCount(t, p)).toBe(before);
  });

  it('an upload with an unknown parameter stores no file and queues no job', async () => {
    const before = await storedJobCount(t, p);
    const res = await request(t.app)
      .put(`/v1/projects/${p.id}/files/a.csv?overwrite=1`)
      .set(p.auth)
      .set('Content-Type', 'text/csv')
      .send('a,b\n1,2\n');
    expectUnknown(res, 'overwrite', 'this route accepts: force.');
    expect(await storedJobCount(t, p)).toBe(before);
    const multipart = await request(t.app).post(`/v1/projects/${p.id}/files?x=1`).set(p.auth).attach('file', Buffer.from('a\n1\n'), 'a.csv');
    expectUnknown(multipart, 'x', 'this route accepts: force.');
    expect(await storedJobCount(t, p)).toBe(before);
  });

  it('every other route refuses an unknown parameter too', async () => {
    const key = p.auth;
    const cases: [string, string, Record<string, string>, string][] = [
      ['get', '/v1/projects?q=acme', t.admin, 'limit, cursor'],
      ['get', `/v1/projects/${p.id}?expand=keys`, t.admin, 'takes no query parameters'],
      ['get', `/v1/projects/${p.id}/model?v=1`, t.admin, 'takes no query parameters'],
      ['get', `/v1/projects/${p.id}/keys?status=active`, t.admin, 'takes no query parameters'],
      ['delete', `/v1/projects/${p.id}/keys/nope?force=true`, t.admin, 'takes no query parameters'],
      ['get', `/v1/projects/${p.id}/jobs?status=failed`, key, 'limit, cursor'],
      ['get', `/v1/projects/${p.id}/jobs/nope?verbose=1`, key, 'takes no query parameters'],
      ['get', '/healthz?deep=1', {}, 'takes no query parameters'],
      ['get', '/readyz?deep=1', {}, 'takes no query parameters'],
      ['get', '/metrics?name=x', {}, 'takes no query parameters'],
      ['get', '/openapi.yaml?format=json', {}, 'takes no query parameters'],
    ];
    for (const [method, url, headers, accepts] of cases) {
      const res = await (method === 'get' ? request(t.app).get(url) : request(t.app).delete(url)).set(headers);
      const name = url.split('?')[1]!.split('=')[0]!;
      expectUnknown(res, name, accepts);
    }
    const created = await request(t.app).post('/v1/projects?dry=1').set(t.admin).send({ id: 'qp-never-made', name: 'x' });
    expectUnknown(created, 'dry', 'takes no query parameters');
    expect((await request(t.app).get('/v1/projects/qp-never-made').set(t.admin)).status).toBe(404);
    const issued = await request(t.app).post(`/v1/projects/${p.id}/keys?x=1`).set(t.admin).send({ name: 'k' });
    expectUnknown(issued, 'x', 'takes no query parameters');
    const model = await request(t.app).put(`/v1/projects/${p.id}/model?x=1`).set(t.admin).send({ merge: 'merge' });
    expectUnknown(model, 'x', 'takes no query parameters');
  });

  it('credentials are checked first: without a key the answer is still 401', async () => {
    const res = await request(t.app).get(`/v1/projects/${p.id}/records?email=x`);
    expect(res.status).toBe(401);
  });
});
