// Response hardening: helmet's headers on every answer (errors and 429s included), no
// X-Powered-By, and CORS off unless explicit origins are configured.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, createProject, type SecKey, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

function expectHardened(res: request.Response): void {
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
}

describe('response headers', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: '2' } });
    p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  it('hardens every kind of answer', async () => {
    const answers = [
      await request(t.app).get('/healthz'),
      await request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header),
      await request(t.app).get('/no/such/route'),
      await request(t.app).post(`/v1/projects/${p.id}/records`).set(key.header).set('Content-Type', 'text/plain').send('x'),
      await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'x', name: 'x'.repeat(70_000) }),
      await request(t.app).get('/docs/'),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 404, 415, 413, 200]);
    for (const res of answers) expectHardened(res);
    const throttled = [];
    for (let i = 0; i < 3; i++) throttled.push(await request(t.app).get(`/v1/projects/${p.id}/records`));
    expect(throttled.map((r) => r.status)).toEqual([401, 401, 429]);
    for (const res of throttled) expectHardened(res);
  });

  it('sends no CORS header when no origin is configured', async () => {
    const simple = await request(t.app).get('/healthz').set('Origin', 'https://evil.example');
    expect(simple.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(t.app)
      .options(`/v1/projects/${p.id}/records`)
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
  });
});

describe('CORS with explicit origins', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  const APP = 'https://app.example.com';
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_CORS_ORIGINS: `${APP},http://localhost:3000` } });
    p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  it('answers a preflight from a listed origin, before authentication', async () => {
    const res = await request(t.app)
      .options(`/v1/projects/${p.id}/records`)
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'x-api-key, content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-headers']).toContain('X-API-Key');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers.vary).toContain('Origin');
  });

  it('lets a listed origin read answers and the rate-limit headers', async () => {
    const res = await request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header).set('Origin', APP);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-expose-headers']).toContain('RateLimit');
    expect(res.headers['access-control-expose-headers']).toContain('Retry-After');
  });

  it('gives any other origin nothing, never a wildcard', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'null', `${APP}:443`]) {
      const res = await request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header).set('Origin', origin);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await request(t.app).options('/v1/projects').set('Origin', origin).set('Access-Control-Request-Method', 'POST');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    }
  });
});
