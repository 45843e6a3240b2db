// API keys: issuing, listing, revoking and expiry, and how project routes authenticate.
// Three apps share one storage namespace, as tasks behind a load balancer would: `t` (the
// default 2 s key cache), `peer` (another task, default cache) and `uncached` (cache off).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyItem } from '../../src/domain/model.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const P = 'keys-main';
const OTHER = 'keys-other';
const KEY_FORMAT = /^ik_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/;

let t: TestApp;
let peer: TestApp;
let uncached: TestApp;
let fullKey: string;
let fullKeyId: string;
let otherKey: string;

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
}

async function issueKey(body: Record<string, unknown>, project = P): Promise<{ id: string; key: string }> {
  const res = await request(t.app).post(`/v1/projects/${project}/keys`).set(t.admin).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

async function recordCount(app: TestApp, project: string): Promise<number> {
  const table = (await app.storage.control.getProject(project))!.tableName;
  let count = 0;
  let afterId: string | undefined;
  do {
    const page = await app.storage.records.listRecords(table, { limit: 1000, afterId });
    count += page.items.length;
    afterId = page.lastId;
  } while (afterId !== undefined);
  return count;
}

async function incomingObjects(project: string): Promise<string[]> {
  const bucket = (await t.storage.control.getProject(project))!.bucketName;
  const keys: string[] = [];
  for await (const page of t.storage.objects.list(bucket, '')) keys.push(...page.map((o) => o.key));
  return keys;
}

const keysOf = async (project = P): Promise<ApiKeyItem[]> => t.storage.control.listKeys(project);

const push = (app: TestApp, headers: Record<string, string>, project = P) =>
  request(app.app).post(`/v1/projects/${project}/records`).set(headers).send({ pushed: true });

const readRecords = (app: TestApp, headers: Record<string, string>, project = P) =>
  request(app.app).get(`/v1/projects/${project}/records`).set(headers);

beforeAll(async () => {
  t = await createTestApp();
  [peer, uncached] = await Promise.all([
    createTestApp({ env: { INTAKE_NAME_PREFIX: t.prefix } }),
    createTestApp({ env: { INTAKE_NAME_PREFIX: t.prefix, INTAKE_KEY_CACHE_MS: '0' } }),
  ]);
  for (const id of [P, OTHER]) {
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: id });
    expect(res.status).toBe(201);
  }
  ({ id: fullKeyId, key: fullKey } = await issueKey({ name: 'full access' }));
  ({ key: otherKey } = await issueKey({ name: 'other project' }, OTHER));
});

afterAll(async () => {
  await Promise.all([t?.close(), peer?.close(), uncached?.close()]);
});

describe('POST /v1/projects/{projectId}/keys', () => {
  it('answers 201 with the ik_ key shown once, all scopes by default, and stores only its hash', async () => {
    const res = await request(t.app).post(`/v1/projects/${P}/keys`).set(t.admin).send({ name: 'shown once' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[a-z2-7]{16}$/),
      projectId: P,
      name: 'shown once',
      scopes: ['records:write', 'records:read', 'files:write'],
      allowedIps: [],
      rateLimit: null,
      expiresAt: null,
      revokedAt: null,
      createdAt: expect.any(String),
      status: 'active',
      key: expect.stringMatching(KEY_FORMAT),
    });
    expect(res.headers.location).toBe(`/v1/projects/${P}/keys/${res.body.id}`);
    const stored = (await t.storage.control.getKey(res.body.id))!;
    expect(stored.hash).toBe(createHash('sha256').update(res.body.key).digest('hex'));
    // The secret is everything after `ik_<id>_` (base64url, so it may itself contain `_`).
    const secretPart = (res.body.key as string).slice(`ik_${String(res.body.id)}_`.length);
    expect(secretPart.length).toBe(43);
    expect(JSON.stringify(stored)).not.toContain(secretPart);
    expect(JSON.stringify(stored)).not.toContain(res.body.key);
  });

  it('keeps scopes, allowed IPs, expiry and rate limit as given', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const res = await request(t.app)
      .post(`/v1/projects/${P}/keys`)
      .set(t.admin)
      .send({
        name: 'restricted',
        scopes: ['records:read'],
        allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
        expiresAt,
        rateLimit: { requests: 10, windowSeconds: 60 },
      });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      scopes: ['records:read'],
      allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
      expiresAt,
      rateLimit: { requests: 10, windowSeconds: 60 },
    });
  });

  it.each([
    ['an unknown scope', { scopes: ['records:delete'] }],
    ['no scopes', { scopes: [] }],
    ['a repeated scope', { scopes: ['records:read', 'records:read'] }],
    ['scopes as a string', { scopes: 'records:read' }],
    ['a CIDR prefix past 32', { allowedIps: ['10.0.0.0/33'] }],
    ['a non-address', { allowedIps: ['not-an-ip'] }],
    ['an octal-looking address', { allowedIps: ['010.1.1.1'] }],
    ['an IPv6 prefix past 128', { allowedIps: ['2001:db8::/129'] }],
    ['an expiry in the past', { expiresAt: new Date(Date.now() - 60_000).toISOString() }],
    ['an expiry that is not a date-time', { expiresAt: 'tomorrow' }],
    ['a zero rate limit', { rateLimit: { requests: 0, windowSeconds: 60 } }],
    ['an unknown field', { hash: 'f'.repeat(64) }],
    ['a name with control characters', { name: 'bad\u0000name' }],
  ])('refuses %s with 400 validation_failed, issuing nothing', async (_label, extra) => {
    const before = await keysOf();
    const res = await request(t.app).post(`/v1/projects/${P}/keys`).set(t.admin).send({ name: 'bad', ...extra });
    expectError(res, 400, 'validation_failed');
    expect(res.body.key).toBeUndefined();
    expect(await keysOf()).toEqual(before);
  });

  it('refuses a key for an unknown project with 404 project_not_found', async () => {
    const res = await request(t.app).post('/v1/projects/no-such-project/keys').set(t.admin).send({ name: 'k' });
    expectError(res, 404, 'project_not_found');
    expect(await keysOf('no-such-project')).toEqual([]);
  });

  it('refuses to issue without the admin token (401), with an API key included', async () => {
    const before = await keysOf();
    expectError(await request(t.app).post(`/v1/projects/${P}/keys`).send({ name: 'k' }), 401, 'unauthenticated');
    expectError(
      await request(t.app).post(`/v1/projects/${P}/keys`).set('Authorization', `Bearer ${fullKey}`).send({ name: 'k' }),
      401,
      'unauthenticated',
    );
    expect(await keysOf()).toEqual(before);
  });
});

describe('GET /v1/projects/{projectId}/keys', () => {
  it('lists the project’s keys without secrets or hashes', async () => {
    const res = await request(t.app).get(`/v1/projects/${P}/keys`).set(t.admin);
    expect(res.status).toBe(200);
    const stored = await keysOf();
    expect(res.body.items.map((k: { id: string }) => k.id).sort()).toEqual(stored.map((k) => k.id).sort());
    for (const item of res.body.items) {
      expect(item).not.toHaveProperty('key');
      expect(item).not.toHaveProperty('hash');
      expect(item.projectId).toBe(P);
    }
    for (const key of stored) expect(res.text).not.toContain(key.hash);
    expect(res.text).not.toContain(fullKey);
    expect(res.text).not.toContain(fullKey.slice('ik_'.length + 16 + 1));
  });
});

describe('authenticating project routes', () => {
  it('accepts a key in X-API-Key and in Authorization: Bearer', async () => {
    const before = await recordCount(t, P);
    expect((await push(t, { 'X-API-Key': fullKey })).status).toBe(200);
    expect((await push(t, { Authorization: `Bearer ${fullKey}` })).status).toBe(200);
    expect((await readRecords(t, { Authorization: `bearer ${fullKey}` })).status).toBe(200);
    expect(await recordCount(t, P)).toBe(before + 2);
  });

  it('accepts the admin token on project routes and records it as the source', async () => {
    const res = await push(t, t.admin);
    expect(res.status).toBe(200);
    const record = await request(t.app).get(`/v1/projects/${P}/records/${res.body.records[0].id}`).set(t.admin);
    expect(record.status).toBe(200);
    expect(record.body.source).toMatchObject({ type: 'api', keyId: 'admin' });
  });

  // Built lazily: the keys exist only once beforeAll has run.
  it.each<[string, () => Record<string, string>]>([
    ['no credential', () => ({})],
    ['a wrong key of the right shape', () => ({ 'X-API-Key': `ik_${'a'.repeat(16)}_${'B'.repeat(43)}` })],
    ['a known key id with a wrong secret', () => ({ 'X-API-Key': `${fullKey.slice(0, -1)}${fullKey.endsWith('A') ? 'B' : 'A'}` })],
    ['garbage', () => ({ 'X-API-Key': 'garbage' })],
    ['an empty header', () => ({ 'X-API-Key': '' })],
    ['a garbage bearer', () => ({ Authorization: 'Bearer not-a-key' })],
    ['a key under another scheme', () => ({ Authorization: `Token ${fullKey}` })],
  ])('refuses %s with 401 and stores nothing', async (_label, headersOf) => {
    const headers = headersOf();
    const before = await recordCount(t, P);
    const res = await push(t, headers);
    expectError(res, 401, 'unauthenticated');
    expectError(await readRecords(t, headers), 401, 'unauthenticated');
    expect(await recordCount(t, P)).toBe(before);
  });

  it('refuses another project’s key with 403 key_not_for_project, storing nothing in either', async () => {
    const [mine, theirs] = [await recordCount(t, P), await recordCount(t, OTHER)];
    expectError(await push(t, { 'X-API-Key': otherKey }), 403, 'key_not_for_project');
    expectError(await readRecords(t, { 'X-API-Key': otherKey }), 403, 'key_not_for_project');
    expect([await recordCount(t, P), await recordCount(t, OTHER)]).toEqual([mine, theirs]);
    // The same key still works on its own project.
    expect((await push(t, { 'X-API-Key': otherKey }, OTHER)).status).toBe(200);
  });

  it('enforces scopes with 403 insufficient_scope, storing nothing', async () => {
    const { key: readOnly } = await issueKey({ name: 'reader', scopes: ['records:read'] });
    const { key: writeOnly } = await issueKey({ name: 'writer', scopes: ['records:write'] });
    const before = await recordCount(t, P);
    const objectsBefore = await incomingObjects(P);

    expectError(await push(t, { 'X-API-Key': readOnly }), 403, 'insufficient_scope');
    expect((await readRecords(t, { 'X-API-Key': readOnly })).status).toBe(200);

    const pushed = await push(t, { 'X-API-Key': writeOnly });
    expect(pushed.status).toBe(200);
    expectError(await readRecords(t, { 'X-API-Key': writeOnly }), 403, 'insufficient_scope');
    const recordPath = `/v1/projects/${P}/records/${pushed.body.records[0].id}`;
    expectError(await request(t.app).get(recordPath).set('X-API-Key', writeOnly), 403, 'insufficient_scope');

    const upload = await request(t.app)
      .put(`/v1/projects/${P}/files/people.csv`)
      .set('X-API-Key', writeOnly)
      .set('Content-Type', 'text/csv')
      .send('a,b\n1,2\n');
    expectError(upload, 403, 'insufficient_scope');

    expect(await recordCount(t, P)).toBe(before + 1);
    expect(await incomingObjects(P)).toEqual(objectsBefore);
  });

  it('refuses a key from outside its allowed IPs with 403 ip_not_allowed, trusting no forwarded header', async () => {
    const { key: fenced } = await issueKey({ name: 'fenced', allowedIps: ['10.0.0.0/8'] });
    const before = await recordCount(t, P);
    expectError(await push(t, { 'X-API-Key': fenced }), 403, 'ip_not_allowed');
    // No trusted proxy hops are configured, so a client cannot claim an allowed address.
    expectError(await push(t, { 'X-API-Key': fenced, 'X-Forwarded-For': '10.1.2.3' }), 403, 'ip_not_allowed');
    expect(await recordCount(t, P)).toBe(before);

    // Loopback clients arrive as IPv4 or IPv4-mapped IPv6; both match an IPv4 entry.
    const { key: loopback } = await issueKey({ name: 'loopback', allowedIps: ['127.0.0.1/32'] });
    expect((await push(t, { 'X-API-Key': loopback })).status).toBe(200);
  });
});

describe('DELETE /v1/projects/{projectId}/keys/{keyId}', () => {
  it('revokes: 200 with status revoked, and the key gets 401 at once on the same task', async () => {
    const { id, key } = await issueKey({ name: 'to revoke' });
    expect((await push(t, { 'X-API-Key': key })).status).toBe(200);
    const res = await request(t.app).delete(`/v1/projects/${P}/keys/${id}`).set(t.admin);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'revoked', revokedAt: expect.any(String) });
    expect(res.body).not.toHaveProperty('key');
    expect(res.body).not.toHaveProperty('hash');
    expect((await t.storage.control.getKey(id))?.revokedAt).toBe(res.body.revokedAt);

    const before = await recordCount(t, P);
    const refused = await push(t, { 'X-API-Key': key });
    expectError(refused, 401, 'unauthenticated');
    expect(refused.body.error.message).toMatch(/revoked/);
    expect(await recordCount(t, P)).toBe(before);

    // Revoking again is harmless and keeps the first revocation time.
    const again = await request(t.app).delete(`/v1/projects/${P}/keys/${id}`).set(t.admin);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(res.body.revokedAt);
  });

  it('reaches a task with the key cache off on its very next request', async () => {
    const { id, key } = await issueKey({ name: 'uncached' });
    expect((await push(uncached, { 'X-API-Key': key })).status).toBe(200);
    expect((await request(t.app).delete(`/v1/projects/${P}/keys/${id}`).set(t.admin)).status).toBe(200);
    const before = await recordCount(t, P);
    expectError(await push(uncached, { 'X-API-Key': key }), 401, 'unauthenticated');
    expect(await recordCount(t, P)).toBe(before);
  });

  it('reaches another task with the default cache within the 5 s bound', async () => {
    expect(peer.config.keyCacheMs).toBe(2000);
    const { id, key } = await issueKey({ name: 'cached elsewhere' });
    // The peer task reads and caches the key, then the revocation happens on another task.
    expect((await push(peer, { 'X-API-Key': key })).status).toBe(200);
    const revokedAt = Date.now();
    expect((await request(t.app).delete(`/v1/projects/${P}/keys/${id}`).set(t.admin)).status).toBe(200);

    let status = 0;
    while (Date.now() - revokedAt < 6000) {
      status = (await readRecords(peer, { 'X-API-Key': key })).status;
      if (status === 401) break;
      await sleep(100);
    }
    const took = Date.now() - revokedAt;
    expect(status).toBe(401);
    expect(took).toBeLessThanOrEqual(5000);
    const before = await recordCount(t, P);
    expectError(await push(peer, { 'X-API-Key': key }), 401, 'unauthenticated');
    expect(await recordCount(t, P)).toBe(before);
  });

  it('answers 404 key_not_found for an unknown key id or another project’s key, revoking nothing', async () => {
    const before = await keysOf(OTHER);
    expectError(await request(t.app).delete(`/v1/projects/${P}/keys/nosuchkey2345678`).set(t.admin), 404, 'key_not_found');
    const otherId = before.find((k) => k.name === 'other project')!.id;
    expectError(await request(t.app).delete(`/v1/projects/${P}/keys/${otherId}`).set(t.admin), 404, 'key_not_found');
    expect(await keysOf(OTHER)).toEqual(before);
    expect((await push(t, { 'X-API-Key': otherKey }, OTHER)).status).toBe(200);
  });

  it('requires the admin token, not an API key', async () => {
    expectError(await request(t.app).delete(`/v1/projects/${P}/keys/${fullKeyId}`), 401, 'unauthenticated');
    expectError(
      await request(t.app).delete(`/v1/projects/${P}/keys/${fullKeyId}`).set('X-API-Key', fullKey),
      401,
      'unauthenticated',
    );
    expect((await t.storage.control.getKey(fullKeyId))?.revokedAt).toBeUndefined();
  });
});

describe('expiry', () => {
  it('refuses a key with 401 once its expiresAt has passed', async () => {
    const expiresAtMs = Date.now() + 1500;
    const { id, key } = await issueKey({ name: 'short-lived', expiresAt: new Date(expiresAtMs).toISOString() });
    expect((await push(t, { 'X-API-Key': key })).status).toBe(200);

    let res: request.Response;
    for (;;) {
      res = await readRecords(t, { 'X-API-Key': key });
      if (res.status !== 200 || Date.now() > expiresAtMs + 5000) break;
      await sleep(100);
    }
    expectError(res, 401, 'unauthenticated');
    expect(res.body.error.message).toMatch(/expired/);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAtMs);
    expect(Date.now()).toBeLessThanOrEqual(expiresAtMs + 5000);

    const before = await recordCount(t, P);
    expectError(await push(t, { 'X-API-Key': key }), 401, 'unauthenticated');
    expect(await recordCount(t, P)).toBe(before);
    const listed = await request(t.app).get(`/v1/projects/${P}/keys`).set(t.admin);
    expect(listed.body.items.find((k: { id: string }) => k.id === id).status).toBe('expired');
  });
});
