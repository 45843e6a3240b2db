// Migration of a data directory written by the earlier release (an emulated DynamoDB on
// LevelDB under <dataDir>/dynamodb/): the fixture was made by that release itself (see
// test/fixtures/earlier-release/make-fixture.ts). The current server refuses to start
// beside it without touching it; `npm run migrate-data` copies it into the SQLite store;
// the server then serves every project, key, record and job as the earlier release did.
import { BatchWriteItemCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runToExit, spawnServer, type ServerProcess } from '../support/server-process.js';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/earlier-release');
const MIGRATE = [process.execPath, '--import', 'tsx', 'src/main/migrate-data.ts'] as const;

interface Manifest {
  adminToken: string;
  projects: string[];
  keys: Record<string, string>;
  revokedKeyId: string;
  keyList: { items: unknown[] };
  job: Record<string, unknown> & { id: string };
  recordPages: Record<string, string[]>;
}

/**
 * Every file (by content hash) and directory under `dir`, so "unchanged" can be asserted.
 * LevelDB's empty LOCK file is never opened: closing any descriptor of a file drops the
 * process's POSIX locks on it, and a test holding the earlier data would lose its lock.
 */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full);
    if (entry.isDirectory()) out[rel] = 'dir';
    else if (entry.name === 'LOCK') out[rel] = `lock file of ${(await fs.stat(full)).size} bytes`;
    else out[rel] = createHash('sha256').update(await fs.readFile(full)).digest('hex');
  }
  return out;
}

/** Records as exact JSON text per id (numbers keep their digits), from a list page's text. */
function exactRecords(pageText: string): Map<string, string> {
  const page = parseLossless(pageText) as { items: { id: string; data: unknown }[] };
  return new Map(page.items.map((item) => [item.id, stringifyLossless(item.data) ?? '']));
}

/**
 * Adds `count` records to the fixture's legacy-acme table the way the earlier release
 * stored them, with plain dynalite on the same LevelDB directory, so a migration of it
 * takes long enough to be cut off midway.
 */
async function addEarlierRecords(dynamoDir: string, count: number): Promise<void> {
  const { client, close } = await openEarlierEngine(dynamoDir);
  try {
    const batches: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += 25) {
      const items = Array.from({ length: Math.min(25, count - i) }, (_, j) => ({
        PutRequest: {
          Item: {
            id: { S: `EARLIER${String(i + j).padStart(10, '0')}` },
            d: { S: `{"n":${i + j},"big":${i + j + 1}0000000000000000000001,"s":"Çağrı ${i + j}"}` },
            s: { S: '{"type":"api","keyId":"uc2kw77z7jwbe4xt","requestId":"r","index":0}' },
            t: { S: '2026-12-01T00:00:00.000Z' },
          },
        },
      }));
      batches.push(
        client.send(new BatchWriteItemCommand({ RequestItems: { 'intake-legacy-acme-records': items } })).then((out) => {
          expect(out.UnprocessedItems ?? {}).toEqual({});
        }),
      );
      if (batches.length >= 8) await Promise.all(batches.splice(0));
    }
    await Promise.all(batches);
  } finally {
    await close();
  }
}

/** Plain dynalite on an earlier LevelDB directory, as the earlier release ran it; holds its lock until closed. */
async function openEarlierEngine(dynamoDir: string) {
  const engine = dynalite({ path: dynamoDir, createTableMs: 0 });
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(engine.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    client,
    close: async () => {
      client.destroy();
      await new Promise((resolve) => engine.close(resolve));
    },
  };
}

async function call(base: string, method: string, url: string, headers: Record<string, string>, body?: string) {
  const response = await fetch(`${base}${url}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('migrating a data directory of the earlier release', () => {
  let root: string;
  let manifest: Manifest;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-migration-'));
    manifest = JSON.parse(await fs.readFile(path.join(FIXTURE, 'manifest.json'), 'utf8')) as Manifest;
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  /** A fresh copy of the fixture's data directory. */
  async function unpackFixture(name: string): Promise<string> {
    const dir = path.join(root, name);
    await fs.mkdir(dir);
    execFileSync('tar', ['-xzf', path.join(FIXTURE, 'data.tar.gz'), '-C', dir]);
    return path.join(dir, 'data');
  }

  it('refuses to start beside the earlier data, migrates it, and then serves all of it', async () => {
    const dataDir = await unpackFixture('main');
    const env = { INTAKE_DATA_DIR: dataDir, INTAKE_POLL_INTERVAL_MS: '200' };
    const before = await snapshot(dataDir);

    const refused = await runToExit({ env });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('Intake failed to start');
    expect(refused.output).toContain('npm run migrate-data');
    expect(await snapshot(dataDir)).toEqual(before);

    const migration = await runToExit({ env, command: MIGRATE });
    expect(migration.code, migration.output).toBe(0);
    expect(migration.output).toContain('intake-control: 9 / 9 items copied');
    expect(migration.output).toContain('intake-legacy-acme-records: 9 / 9 items copied');
    expect(migration.output).toContain('intake-legacy-zeta-records: 1 / 1 items copied');
    expect(migration.output).toMatch(/2 rate-limit counters not copied/);
    expect(migration.output).toContain(`kept in ${path.join(dataDir, 'dynamodb.migrated')}; delete that directory`);
    const entries = (await fs.readdir(dataDir)).sort();
    expect(entries).toEqual(['admin-token', 'dynamodb.migrated', 'intake.db', 'objects']);
    // The earlier files are kept, under their new name (LevelDB may have folded its log
    // into a table file when it was opened, as every start of the earlier release did).
    const kept = Object.keys(await snapshot(path.join(dataDir, 'dynamodb.migrated')));
    expect(kept).toContain('CURRENT');
    expect(kept.some((f) => f.endsWith('.ldb'))).toBe(true);

    server = await spawnServer({ env });
    const base = server.baseUrl;
    const admin = { authorization: `Bearer ${manifest.adminToken}` };

    const projects = await call(base, 'GET', '/v1/projects', admin);
    expect(projects.status).toBe(200);
    expect((projects.json.items as { id: string }[]).map((p) => p.id)).toEqual(manifest.projects);
    const acme = await call(base, 'GET', '/v1/projects/legacy-acme', admin);
    expect(acme.json).toMatchObject({ id: 'legacy-acme', name: 'Acme (earlier release) ✓' });
    const zeta = await call(base, 'GET', '/v1/projects/legacy-zeta', admin);
    expect(zeta.json).toMatchObject({ allowedIps: ['127.0.0.1/32', '::1'] });

    // Keys: listed as before (the revoked one still revoked), and the secret still authenticates.
    const keys = await call(base, 'GET', '/v1/projects/legacy-acme/keys', admin);
    expect(keys.json).toEqual(manifest.keyList);
    for (const [project, key] of Object.entries(manifest.keys)) {
      const page = await fetch(`${base}/v1/projects/${project}/records?limit=1000`, { headers: { 'x-api-key': key } });
      expect(page.status).toBe(200);
      // Exact data: every record, every digit, as the earlier release served it.
      const now = exactRecords(await page.text());
      const then = exactRecords(manifest.recordPages[project]![0]!);
      expect(now.size).toBe(then.size);
      expect(new Map([...now].sort())).toEqual(new Map([...then].sort()));
      for (const [id, data] of then) {
        const one = await fetch(`${base}/v1/projects/${project}/records/${id}`, { headers: { 'x-api-key': key } });
        expect(stringifyLossless((parseLossless(await one.text()) as { data: unknown }).data)).toBe(data);
      }
    }
    const acmeKey = manifest.keys['legacy-acme']!;
    const wrongProject = await call(base, 'GET', '/v1/projects/legacy-zeta/records', { 'x-api-key': acmeKey });
    expect(wrongProject.status).toBe(403);

    // The job, as it finished under the earlier release.
    const job = await call(base, 'GET', `/v1/projects/legacy-acme/jobs/${manifest.job.id}`, { 'x-api-key': acmeKey });
    expect(job.status).toBe(200);
    expect(job.json).toEqual(manifest.job);

    // The idempotency claim came along: the same key with another body is refused.
    const reused = await call(
      base,
      'POST',
      '/v1/projects/legacy-acme/records',
      { 'x-api-key': acmeKey, 'content-type': 'application/json', 'idempotency-key': 'sync-001' },
      '[{"seq":3}]',
    );
    expect(reused.status).toBe(422);
    expect((reused.json.error as { code: string }).code).toBe('idempotency_key_reused');
    const pushed = await call(base, 'POST', '/v1/projects/legacy-acme/records', { 'x-api-key': acmeKey, 'content-type': 'application/json' }, '{"after":"migration"}');
    expect(pushed.status).toBe(200);
    expect(pushed.json.accepted).toBe(1);
    await server.stop();

    const again = await runToExit({ env, command: MIGRATE });
    expect(again.code).toBe(0);
    expect(again.output).toContain('Nothing to do');
  });

  it('starts over after a run that stopped midway, and finishes one that stopped between its renames', async () => {
    const dataDir = await unpackFixture('interrupted');
    const env = { INTAKE_DATA_DIR: dataDir };
    // What a run killed while copying leaves: a partial work file and its WAL.
    await fs.writeFile(path.join(dataDir, 'intake.db.migrating'), 'partial copy');
    await fs.writeFile(path.join(dataDir, 'intake.db.migrating-wal'), 'partial log');
    const first = await runToExit({ env, command: MIGRATE });
    expect(first.code, first.output).toBe(0);
    expect((await fs.readdir(dataDir)).sort()).toEqual(['admin-token', 'dynamodb.migrated', 'intake.db', 'objects']);

    // A run stopped after intake.db was in place but before dynamodb/ was renamed.
    await fs.rename(path.join(dataDir, 'dynamodb.migrated'), path.join(dataDir, 'dynamodb'));
    const refused = await runToExit({ env });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('npm run migrate-data');
    const second = await runToExit({ env, command: MIGRATE });
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain('verified intake-legacy-acme-records');
    expect((await fs.readdir(dataDir)).sort()).toEqual(['admin-token', 'dynamodb.migrated', 'intake.db', 'objects']);

    // An intake.db that does not match the earlier data is never overwritten.
    await fs.rename(path.join(dataDir, 'dynamodb.migrated'), path.join(dataDir, 'dynamodb'));
    server = await spawnServer({ env: { INTAKE_DATA_DIR: path.join(root, 'elsewhere') } });
    await server.stop();
    const other = path.join(root, 'elsewhere', 'intake.db');
    await fs.copyFile(other, path.join(dataDir, 'intake.db'));
    const otherHash = createHash('sha256').update(await fs.readFile(other)).digest('hex');
    const mismatch = await runToExit({ env, command: MIGRATE });
    expect(mismatch.code).toBe(1);
    expect(mismatch.output).toContain('does not hold the same data');
    expect(mismatch.output).toContain('Nothing was changed');
    expect(createHash('sha256').update(await fs.readFile(path.join(dataDir, 'intake.db'))).digest('hex')).toBe(otherHash);
    expect(await fs.stat(path.join(dataDir, 'dynamodb')).then((s) => s.isDirectory())).toBe(true);
  });

  it('starts over after a run killed while copying, and ends with every record', async () => {
    const dataDir = await unpackFixture('killed');
    const env = { INTAKE_DATA_DIR: dataDir };
    const added = 20_000;
    await addEarlierRecords(path.join(dataDir, 'dynamodb'), added);
    const total = 9 + added;

    const killed = await runToExit({
      env,
      command: MIGRATE,
      killWhen: (output) => output.includes(`intake-legacy-acme-records: 0 / ${total} items copied`),
    });
    expect(killed.signal, killed.output).toBe('SIGKILL');
    const left = await fs.readdir(dataDir);
    expect(left).toContain('dynamodb');
    expect(left).toContain('intake.db.migrating');
    expect(left).not.toContain('intake.db');

    const rerun = await runToExit({ env, command: MIGRATE });
    expect(rerun.code, rerun.output).toBe(0);
    expect(rerun.output).toContain(`intake-legacy-acme-records: ${total} / ${total} items copied`);
    expect((await fs.readdir(dataDir)).sort()).toEqual(['admin-token', 'dynamodb.migrated', 'intake.db', 'objects']);

    server = await spawnServer({ env });
    const key = manifest.keys['legacy-acme']!;
    const ids = new Set<string>();
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = await call(server.baseUrl, 'GET', `/v1/projects/legacy-acme/records?limit=1000${query}`, { 'x-api-key': key });
      for (const item of page.json.items as { id: string }[]) ids.add(item.id);
      cursor = page.json.nextCursor as string | null;
    } while (cursor !== null);
    expect(ids.size).toBe(total);
    const last = `EARLIER${String(added - 1).padStart(10, '0')}`;
    const one = await fetch(`${server.baseUrl}/v1/projects/legacy-acme/records/${last}`, { headers: { 'x-api-key': key } });
    expect(await one.text()).toContain(`"data":{"n":${added - 1},"big":${added}0000000000000000000001,"s":"Çağrı ${added - 1}"}`);
    expect((await server.stop()).code).toBe(0);
  });

  it('refuses to migrate while another process holds the earlier data, and changes nothing', async () => {
    const dataDir = await unpackFixture('held');
    const engine = await openEarlierEngine(path.join(dataDir, 'dynamodb'));
    try {
      // The engine opens its LevelDB lazily: a first call makes it take the lock.
      await engine.client.send(new ListTablesCommand({}));
      const before = await snapshot(dataDir);
      const refused = await runToExit({ env: { INTAKE_DATA_DIR: dataDir }, command: MIGRATE });
      expect(refused.code, refused.output).toBe(1);
      expect(refused.output).toContain('Migration failed: The earlier data could not be opened: another process holds it');
      expect(refused.output).toContain('The earlier data is unchanged');
      // LevelDB rotates its text log (LOG → LOG.old) on every open attempt, even one refused
      // by the lock; every data file (tables, log, MANIFEST, CURRENT) is as it was.
      const dataFiles = (files: Record<string, string>) =>
        Object.fromEntries(Object.entries(files).filter(([rel]) => !/(^|\/)LOG(\.old)?$/.test(rel)));
      expect(dataFiles(await snapshot(dataDir))).toEqual(dataFiles(before));
    } finally {
      await engine.close();
    }
  });
});
