// Refusals answered 403 (a key used on another project, from an address outside its
// allowlist, or without the scope) count toward the failed-attempt limiter of the address,
// like 401s: past the limit the address gets 429 before any credential is looked at, and
// nothing is stored meanwhile. Each reason gets its own app, so counts never mix.
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createKey, createProject, expectError, storedRecordCount } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const LIMIT = 4;
const ENV = { INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: String(LIMIT), INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS: '60', INTAKE_TRUST_PROXY_HOPS: '1' };

describe('403 refusals count as failed attempts', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });

  it.each([
    ['key_not_for_project', { other: true, body: {} }],
    ['ip_not_allowed', { other: false, body: { allowedIps: ['198.51.100.0/24'] } }],
    ['insufficient_scope', { other: false, body: { scopes: ['records:read'] } }],
  ] as const)('%s: after the limit the address is answered 429, and nothing was stored', async (code, setup) => {
    const t = await createTestApp({ env: ENV });
    apps.push(t);
    const p = await createProject(t);
    const home = setup.other ? await createProject(t) : p;
    const key = await createKey(t, home.id, setup.body);
    const push = () =>
      request(t.app).post(`/v1/projects/${p.id}/records`).set(key.header).set('X-Forwarded-For', '203.0.113.50').send({ a: 1 });
    for (let i = 0; i < LIMIT; i++) expectError(await push(), 403, code);
    const throttled = await push();
    expectError(throttled, 429, 'rate_limited');
    expect(throttled.headers['retry-after']).toBeDefined();
    expect(await storedRecordCount(t, p)).toBe(0);
    // Another address is not affected.
    const elsewhere = await request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(key.header)
      .set('X-Forwarded-For', '203.0.113.51')
      .send({ a: 1 });
    expectError(elsewhere, 403, code);
  });
});
