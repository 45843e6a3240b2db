// Rate limits with the in-memory store (per task, the default): per API key with per-key
// overrides, standard headers and 429s; failed authentications per client address, so
// that guessing keys or the admin token from one address is slow and never a 5xx.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.js';
import type { RateCounterStore } from '../../src/storage/ports.js';
import {
  counterValue,
  createKey,
  createProject,
  expectError,
  expectHealthy,
  LogCapture,
  randomKey,
  storedRecordCount,
  type SecProject,
} from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const LIMITS = {
  INTAKE_TRUST_PROXY_HOPS: '1', // each test speaks from its own address through X-Forwarded-For
  INTAKE_RATE_LIMIT_REQUESTS: '5',
  INTAKE_RATE_LIMIT_WINDOW_SECONDS: '60',
  INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: '10',
  INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS: '60',
};

describe('rate limits (memory store)', () => {
  let t: TestApp;
  let p: SecProject;
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({ env: LIMITS });
    expect(t.config.rateLimit.store).toBe('memory');
    p = await createProject(t);
    // One listening server for the many requests below (supertest would start one per request).
    server = http.createServer(t.app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  const push = (header: Record<string, string>, from: string) =>
    request(base).post(`/v1/projects/${p.id}/records`).set(header).set('X-Forwarded-For', from).send({ n: 1 });

  it('stops a key over its own limit while another key stays under its own', async () => {
    const tight = await createKey(t, p.id, { rateLimit: { requests: 3, windowSeconds: 60 } });
    const usual = await createKey(t, p.id);
    for (let i = 0; i < 3; i++) {
      const ok = await push(tight.header, '192.0.2.1');
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-policy']).toMatch(/^"per-key"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/);
      expect(ok.headers.ratelimit).toMatch(new RegExp(`^"per-key"; r=${2 - i}; t=(60|59)$`));
    }
    const refused = await push(tight.header, '192.0.2.1');
    expectError(refused, 429, 'rate_limited');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.ratelimit).toMatch(/^"per-key"; r=0; t=\d+$/);

    // The other key, from the same address, still has its whole default allowance.
    for (let i = 0; i < 5; i++) {
      const ok = await push(usual.header, '192.0.2.1');
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-policy']).toMatch(/^"per-key"; q=5; w=60;/);
    }
    expectError(await push(usual.header, '192.0.2.1'), 429, 'rate_limited');
    expect(await storedRecordCount(t, p)).toBe(8);
    expect(await counterValue(t, 'intake_rate_limited_total', { kind: 'key' })).toBeGreaterThanOrEqual(2);
    await expectHealthy(t.app);
  });

  it('lets a key in again once its window has passed', async () => {
    const brief = await createKey(t, p.id, { rateLimit: { requests: 1, windowSeconds: 1 } });
    const read = () => request(base).get(`/v1/projects/${p.id}/jobs`).set(brief.header).set('X-Forwarded-For', '192.0.2.2');
    expect((await read()).status).toBe(200);
    const refused = await read();
    expectError(refused, 429, 'rate_limited');
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers['retry-after']) * 1000 + 50));
    expect((await read()).status).toBe(200);
  });

  it('does not limit the admin token on project routes', async () => {
    for (let i = 0; i < 8; i++) expect((await request(base).get(`/v1/projects/${p.id}/jobs`).set(t.admin)).status).toBe(200);
  });

  it('throttles 1,000 random keys from one address: ten 401s, then 429s, never a 5xx', async () => {
    const before = await storedRecordCount(t, p);
    const lookups = vi.spyOn(t.storage.control, 'getKey');
    const statuses = new Map<number, number>();
    const concurrency = 20;
    for (let sent = 0; sent < 1000; sent += concurrency) {
      const batch = await Promise.all(
        Array.from({ length: concurrency }, () => push({ 'X-API-Key': randomKey() }, '192.0.2.66')),
      );
      for (const res of batch) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429) expect(res.body.error.code).toBe('rate_limited');
      }
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 10, 429: 990 });
    // Throttled guesses are refused before any key is looked up.
    expect(lookups.mock.calls.length).toBeLessThanOrEqual(10 + concurrency);
    lookups.mockRestore();
    expect(await storedRecordCount(t, p)).toBe(before);
    expect(await counterValue(t, 'intake_auth_failures_total', { reason: 'invalid_key' })).toBeGreaterThanOrEqual(10);
    expect(await counterValue(t, 'intake_rate_limited_total', { kind: 'auth_failure' })).toBeGreaterThanOrEqual(990 - concurrency);

    // A valid key from the throttled address gets the same 429: a guess cannot tell right from wrong.
    const valid = await createKey(t, p.id);
    expectError(await push(valid.header, '192.0.2.66'), 429, 'rate_limited');
    // Other addresses are not affected.
    expect((await push(valid.header, '192.0.2.67')).status).toBe(200);
    await expectHealthy(t.app);
  });

  it('counts requests with no credential at all as failures of their address', async () => {
    const bare = () => request(base).get(`/v1/projects/${p.id}/records`).set('X-Forwarded-For', '192.0.2.80');
    for (let i = 0; i < 10; i++) expectError(await bare(), 401, 'unauthenticated');
    const refused = await bare();
    expectError(refused, 429, 'rate_limited');
    expect(refused.headers['ratelimit-policy']).toMatch(/^"auth-failures"; q=10; w=60;/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('throttles admin token guessing the same way, and creates nothing', async () => {
    const create = (token: string, from: string) =>
      request(base).post('/v1/projects').set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', from).send({ id: 'never-made', name: 'x' });
    for (let i = 0; i < 10; i++) expectError(await create(`guess-${i}-${'x'.repeat(40)}`, '192.0.2.90'), 401, 'unauthenticated');
    expectError(await create('one-more-guess', '192.0.2.90'), 429, 'rate_limited');
    expectError(await create(t.adminToken, '192.0.2.90'), 429, 'rate_limited');
    expect(await t.storage.control.getProject('never-made')).toBeNull();
    expect((await request(base).get('/v1/projects').set(t.admin).set('X-Forwarded-For', '192.0.2.91')).status).toBe(200);
  });

  it('groups IPv6 clients by /56, so rotating addresses inside one allocation does not help', async () => {
    for (let i = 0; i < 10; i++) {
      expectError(await push({ 'X-API-Key': randomKey() }, `2001:db8:aa:${i.toString(16)}::${i + 1}`), 401, 'unauthenticated');
    }
    expectError(await push({ 'X-API-Key': randomKey() }, '2001:db8:aa:ff::1'), 429, 'rate_limited');
    expectError(await push({ 'X-API-Key': randomKey() }, '2001:db8:ab::1'), 401, 'unauthenticated');
  });
});

describe('the client address for rate limits with the default proxy trust', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { ...LIMITS, INTAKE_TRUST_PROXY_HOPS: '0' } });
  });
  afterAll(async () => t.close());

  it('ignores forged X-Forwarded-For: a new address per guess does not reset the count', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await request(t.app)
        .get('/v1/projects/anything/records')
        .set('X-API-Key', randomKey())
        .set('X-Forwarded-For', `198.51.100.${i + 1}`);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
    await expectHealthy(t.app);
  });
});

describe('when the shared counter store fails', () => {
  let t: TestApp;
  const logs = new LogCapture();
  beforeAll(async () => {
    t = await createTestApp({ env: { ...LIMITS, INTAKE_LOG_LEVEL: 'warn' }, logStream: logs.stream });
  });
  afterAll(async () => t.close());

  it('lets requests through unthrottled and logs why', async () => {
    const failing: RateCounterStore = {
      increment: () => Promise.reject(new Error('counters down')),
      decrement: () => Promise.reject(new Error('counters down')),
      get: () => Promise.reject(new Error('counters down')),
      reset: () => Promise.reject(new Error('counters down')),
    };
    const config = { ...t.config, rateLimit: { ...t.config.rateLimit, store: 'dynamodb' as const } };
    const app = createApp({ ...t, config, storage: { ...t.storage, rateCounters: failing } });
    const p = await createProject(t, {}, app);
    const key = await createKey(t, p.id, {}, app);
    for (let i = 0; i < 7; i++) {
      expect((await request(app).post(`/v1/projects/${p.id}/records`).set(key.header).send({ i })).status).toBe(200);
    }
    expectError(await request(app).get(`/v1/projects/${p.id}/records`).set('X-API-Key', randomKey()), 401, 'unauthenticated');
    expect(await storedRecordCount(t, p)).toBe(7);
    expect(logs.entries().some((e) => e.event === 'rate_limit_error')).toBe(true);
  });
});
