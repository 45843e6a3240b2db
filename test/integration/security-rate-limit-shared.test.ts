// INTAKE_RATE_LIMIT_STORE=dynamodb: counters in the control table, shared by every task.
// Two apps over the same tables stand for two tasks; in embedded mode the same setting keeps
// the counters in the SQLite database.
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../src/storage/dynamodb/dynamo-client.js';
import { storageNames } from '../../src/storage/names.js';
import type { RateCounterStore } from '../../src/storage/ports.js';
import {
  createKey,
  createProject,
  expectError,
  expectHealthy,
  randomKey,
  storedRecordCount,
  type SecProject,
} from '../support/security-kit.js';
import { testAwsEnv } from '../support/endpoints.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const WINDOW_SECONDS = 3600;

/** Windows are aligned to their length; start a test well inside one so it cannot straddle two. */
async function awayFromWindowEdge(windowSeconds: number): Promise<void> {
  const windowMs = windowSeconds * 1000;
  const left = windowMs - (Date.now() % windowMs);
  if (left < 15_000) await sleep(left + 50);
}

/** The counter port itself: atomic counts per key and window, never below zero. */
async function exerciseCounters(counters: RateCounterStore | undefined): Promise<void> {
  if (!counters) throw new Error('storage has no rate counters');
  await awayFromWindowEdge(WINDOW_SECONDS);
  const key = `test:${Math.random().toString(36).slice(2)}`;
  const windowMs = WINDOW_SECONDS * 1000;
  expect(await counters.get(key, windowMs)).toBeUndefined();
  const counts = await Promise.all(Array.from({ length: 20 }, () => counters.increment(key, windowMs)));
  expect(counts.map((c) => c.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  const resetAt = counts[0]!.resetAt.getTime();
  expect(resetAt % windowMs).toBe(0);
  expect(resetAt).toBeGreaterThan(Date.now());
  await counters.decrement(key, windowMs);
  expect((await counters.get(key, windowMs))?.count).toBe(19);
  // Another window length is another counter.
  expect((await counters.increment(key, 60_000)).count).toBe(1);
  await counters.reset(key, windowMs);
  await counters.decrement(key, windowMs);
  expect((await counters.get(key, windowMs))?.count).toBe(0);
  await counters.decrement(`never-${key}`, windowMs);
  await counters.reset(`never-${key}`, windowMs);
  expect(await counters.get(`never-${key}`, windowMs)).toBeUndefined();
}

const SHARED = {
  INTAKE_RATE_LIMIT_STORE: 'dynamodb',
  INTAKE_TRUST_PROXY_HOPS: '1',
  INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: '6',
  INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
};

describe('shared rate limits across two tasks (DynamoDB Local)', () => {
  let a: TestApp;
  let b: TestApp;
  let p: SecProject;
  beforeAll(async () => {
    a = await createTestApp({ env: SHARED });
    // Same name prefix: the same control table, as two tasks of one deployment.
    b = await createTestApp({ env: { ...SHARED, INTAKE_NAME_PREFIX: a.prefix } });
    p = await createProject(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('counts atomically per key and window', async () => {
    await exerciseCounters(a.storage.rateCounters);
  });

  it('counts one key across both tasks', async () => {
    await awayFromWindowEdge(WINDOW_SECONDS);
    const key = await createKey(a, p.id, { rateLimit: { requests: 4, windowSeconds: WINDOW_SECONDS } });
    const other = await createKey(a, p.id, { rateLimit: { requests: 4, windowSeconds: WINDOW_SECONDS } });
    const push = (t: TestApp, header: Record<string, string>) =>
      request(t.app).post(`/v1/projects/${p.id}/records`).set(header).set('X-Forwarded-For', '192.0.2.1').send({ a: 1 });
    const statuses = [];
    for (const t of [a, b, a, b, a, b]) statuses.push((await push(t, key.header)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const refused = await push(b, key.header);
    expectError(refused, 429, 'rate_limited');
    expect(refused.headers['ratelimit-policy']).toMatch(new RegExp(`^"per-key"; q=4; w=${WINDOW_SECONDS};`));
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    // The other key has its own counter.
    expect((await push(b, other.header)).status).toBe(200);
    expect(await storedRecordCount(a, p)).toBe(5);
    await expectHealthy(a.app);
    await expectHealthy(b.app);
  });

  it('keeps the counter as one item with a ttl attribute in the control table', async () => {
    const key = await createKey(a, p.id, { rateLimit: { requests: 10, windowSeconds: WINDOW_SECONDS } });
    await awayFromWindowEdge(WINDOW_SECONDS);
    for (let i = 0; i < 3; i++) {
      expect((await request(a.app).get(`/v1/projects/${p.id}/jobs`).set(key.header).set('X-Forwarded-For', '192.0.2.2')).status).toBe(200);
    }
    const windowMs = WINDOW_SECONDS * 1000;
    const start = Math.floor(Date.now() / windowMs) * windowMs;
    const env = testAwsEnv();
    const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
    try {
      const out = await client.send(
        new GetItemCommand({
          TableName: storageNames(a.prefix).controlTable,
          Key: { pk: { S: `ratelimit#rl:key:${WINDOW_SECONDS}:key:${key.id}#${windowMs}#${start}` }, sk: { S: 'ratelimit' } },
          ConsistentRead: true,
        }),
      );
      expect(out.Item?.hits?.N).toBe('3');
      expect(Number(out.Item?.ttl?.N)).toBeGreaterThanOrEqual((start + windowMs) / 1000);
    } finally {
      client.destroy();
    }
  });

  it('counts failed authentications of one address across both tasks', async () => {
    await awayFromWindowEdge(WINDOW_SECONDS);
    const guess = (t: TestApp) =>
      request(t.app).get(`/v1/projects/${p.id}/records`).set('X-API-Key', randomKey()).set('X-Forwarded-For', '192.0.2.99');
    const statuses = [];
    for (const t of [a, b, a, b, a, b, a, b]) statuses.push((await guess(t)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
    await expectHealthy(a.app);
  });
});

describe('shared rate limits on SQLite (embedded mode)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded', env: { INTAKE_RATE_LIMIT_STORE: 'dynamodb' } });
  });
  afterAll(async () => t.close());

  it('counts with the same operations', async () => {
    await exerciseCounters(t.storage.rateCounters);
    await awayFromWindowEdge(WINDOW_SECONDS);
    const p = await createProject(t);
    const key = await createKey(t, p.id, { rateLimit: { requests: 2, windowSeconds: WINDOW_SECONDS } });
    const read = () => request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header);
    expect((await read()).status).toBe(200);
    expect((await read()).status).toBe(200);
    expectError(await read(), 429, 'rate_limited');
    await expectHealthy(t.app);
  });
});
