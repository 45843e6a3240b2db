// Idempotency claims expire (INTAKE_IDEMPOTENCY_TTL_HOURS): both control stores, on an
// injected clock, treat a claim past its expiry as absent, so a retry after expiry is a new
// request. DynamoDB keeps expired items until its lazy TTL deletion runs (DynamoDB Local
// never runs it), so the adapter's conditional write must replace them; SQLite sweeps them.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DescribeTimeToLiveCommand, GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDynamoClient } from '../../src/storage/dynamodb/dynamo-client.js';
import { DynamoControlStore } from '../../src/storage/dynamodb/dynamo-control-store.js';
import type { ControlStore } from '../../src/storage/ports.js';
import { SqliteControlStore } from '../../src/storage/sqlite/sqlite-control-store.js';
import { SqliteDatabase } from '../../src/storage/sqlite/sqlite-database.js';
import { freshName } from '../support/contract/contract-helpers.js';
import { testAwsEnv } from '../support/endpoints.js';

const HOUR = 3600_000;
const T0 = Date.parse('2026-06-01T00:00:00.000Z');

interface Engine {
  name: string;
  /** A control store over fresh storage on the given clock and claim lifetime. */
  open(now: () => number, ttlMs?: number): Promise<ControlStore>;
  close(): Promise<void>;
}

function dynamoEngine(): Engine {
  const env = testAwsEnv();
  let client: DynamoDBClient | undefined;
  return {
    name: 'DynamoDB Local',
    async open(now, ttlMs) {
      client ??= createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
      const store = new DynamoControlStore(client, freshName('lim-idem'), { now, idempotencyTtlMs: ttlMs });
      await store.ensureTable();
      return store;
    },
    async close() {
      client?.destroy();
    },
  };
}

function sqliteEngine(): Engine {
  const dirs: string[] = [];
  const databases: SqliteDatabase[] = [];
  return {
    name: 'SQLite (embedded)',
    async open(now, ttlMs) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-limits-idem-'));
      dirs.push(dir);
      const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
      databases.push(database);
      return new SqliteControlStore(database, { now, idempotencyTtlMs: ttlMs });
    },
    async close() {
      for (const database of databases) database.close();
      for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

for (const engine of [dynamoEngine(), sqliteEngine()]) {
  describe(`idempotency claims expire: ${engine.name}`, () => {
    let clock = T0;
    const now = () => clock;
    let control: ControlStore;

    beforeAll(async () => {
      control = await engine.open(now, 2 * HOUR);
    });
    afterAll(() => engine.close());

    it('holds a claim until its expiry, then takes a new one (a retry after expiry is a new request)', async () => {
      clock = T0;
      const first = { bodyHash: 'first', firstSeenAt: new Date(T0).toISOString() };
      const second = { bodyHash: 'second', firstSeenAt: new Date(T0 + 2 * HOUR).toISOString() };
      expect(await control.claimIdempotencyKey('p-exp', 'order-1', first)).toEqual(first);
      clock = T0 + 2 * HOUR - 1;
      expect(await control.claimIdempotencyKey('p-exp', 'order-1', second)).toEqual(first);
      clock = T0 + 2 * HOUR;
      expect(await control.claimIdempotencyKey('p-exp', 'order-1', second)).toEqual(second);
      // The new claim holds for a full lifetime from its own first use.
      const third = { bodyHash: 'third', firstSeenAt: new Date(T0 + 3 * HOUR).toISOString() };
      clock = T0 + 4 * HOUR - 1;
      expect(await control.claimIdempotencyKey('p-exp', 'order-1', third)).toEqual(second);
      // Other keys and projects are untouched by the replacement.
      clock = T0 + 2 * HOUR;
      const other = { bodyHash: 'other', firstSeenAt: new Date(clock).toISOString() };
      expect(await control.claimIdempotencyKey('p-other', 'order-1', other)).toEqual(other);
    });

    it('lets exactly one of racing claims replace an expired claim', async () => {
      clock = T0;
      const old = { bodyHash: 'old', firstSeenAt: new Date(T0).toISOString() };
      await control.claimIdempotencyKey('p-race', 'raced', old);
      clock = T0 + 3 * HOUR;
      const claims = Array.from({ length: 6 }, (_, i) => ({ bodyHash: `new-${i}`, firstSeenAt: new Date(clock).toISOString() }));
      const results = await Promise.all(claims.map((c) => control.claimIdempotencyKey('p-race', 'raced', c)));
      const winners = new Set(results.map((r) => r.bodyHash));
      expect(winners.size).toBe(1);
      expect(claims.map((c) => c.bodyHash)).toContain([...winners][0]);
      expect(await control.claimIdempotencyKey('p-race', 'raced', old)).toEqual(results[0]);
    });

    it('defaults to 24 hours', async () => {
      clock = T0;
      const store = await engine.open(now);
      const claim = { bodyHash: 'a', firstSeenAt: new Date(T0).toISOString() };
      const later = { bodyHash: 'b', firstSeenAt: new Date(T0).toISOString() };
      await store.claimIdempotencyKey('p-day', 'k', claim);
      clock = T0 + 24 * HOUR - 1;
      expect(await store.claimIdempotencyKey('p-day', 'k', later)).toEqual(claim);
      clock = T0 + 24 * HOUR;
      expect(await store.claimIdempotencyKey('p-day', 'k', later)).toEqual(later);
    });
  });
}

describe('idempotency claims on DynamoDB: the TTL attribute', () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  afterAll(() => client.destroy());

  it('writes the expiry as epoch seconds in `ttl` and enables TTL on the table, also when ensured again', async () => {
    const table = freshName('lim-ttl');
    const store = new DynamoControlStore(client, table, { now: () => T0, idempotencyTtlMs: 5 * HOUR });
    await store.ensureTable();
    await store.ensureTable();
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'ttl' });
    await store.claimIdempotencyKey('p-ttl', 'key', { bodyHash: 'h', firstSeenAt: new Date(T0).toISOString() });
    const digest = createHash('sha256').update('key').digest('base64url');
    const out = await client.send(
      new GetItemCommand({ TableName: table, Key: marshall({ pk: `idem#p-ttl#${digest}`, sk: 'idem' }), ConsistentRead: true }),
    );
    const item = unmarshall(out.Item!);
    expect(item.ttl).toBe((T0 + 5 * HOUR) / 1000);
    expect(item.expiresAt).toBe(T0 + 5 * HOUR);
    // The key itself is never stored, only its digest.
    expect(JSON.stringify(item)).not.toContain('"key"');
  });
});

describe('idempotency claims in SQLite: the sweep', () => {
  it('removes expired claims at start, in batches, and keeps live ones', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-limits-sweep-'));
    try {
      const file = path.join(dir, 'intake.db');
      let clock = T0;
      const database = SqliteDatabase.open(file, { synchronous: 'normal' });
      const store = new SqliteControlStore(database, { now: () => clock, idempotencyTtlMs: HOUR });
      const claim = { bodyHash: 'h', firstSeenAt: new Date(T0).toISOString() };
      // More than one sweep batch (500) of claims that will expire, and a few that will not.
      for (let i = 0; i < 1234; i++) await store.claimIdempotencyKey('p-sweep', `old-${i}`, claim);
      clock = T0 + 30 * 60_000;
      for (let i = 0; i < 3; i++) await store.claimIdempotencyKey('p-sweep', `live-${i}`, claim);
      const count = () => (database.db.prepare('SELECT count(*) AS n FROM idempotency_claims').get() as { n: number }).n;
      expect(count()).toBe(1237);
      database.close();

      // A restart after the first 1234 expired: they are gone, the 3 live ones stay.
      clock = T0 + HOUR + 1;
      const reopened = SqliteDatabase.open(file, { synchronous: 'normal' });
      const restarted = new SqliteControlStore(reopened, { now: () => clock, idempotencyTtlMs: HOUR });
      const left = (reopened.db.prepare('SELECT count(*) AS n FROM idempotency_claims').get() as { n: number }).n;
      expect(left).toBe(3);
      expect(await restarted.claimIdempotencyKey('p-sweep', 'live-0', { bodyHash: 'x', firstSeenAt: 'x' })).toEqual(claim);

      // While running, at most once a minute and one batch at a time, on the next claim.
      clock = T0 + 2 * HOUR;
      expect(restarted.sweepExpiredIdempotencyClaims()).toBe(3);
      reopened.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads its lifetime from INTAKE_IDEMPOTENCY_TTL_HOURS, 24 by default, and refuses nonsense', () => {
    expect(loadConfig({}).idempotencyTtlHours).toBe(24);
    expect(loadConfig({ INTAKE_IDEMPOTENCY_TTL_HOURS: '48' }).idempotencyTtlHours).toBe(48);
    for (const bad of ['0', '-1', '1.5', 'day']) {
      expect(() => loadConfig({ INTAKE_IDEMPOTENCY_TTL_HOURS: bad }), bad).toThrow(/INTAKE_IDEMPOTENCY_TTL_HOURS/);
    }
  });
});
