// Migration of a data directory written by the earlier release (an emulated DynamoDB on
// LevelDB under <dataDir>/dynamodb/): the fixture was made by that release itself (see
// test/fixtures/earlier-release/make-fixture.ts). The current server refuses to start
// beside it without touching it; `npm run migrate-data` copies it into the SQLite store;
// the server then serves every project, key, record and job as the earlier release did.
// The command's own refusals are here too; interrupted runs are in
// embedded-migration-interrupted.test.ts.
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import Database from 'better-sqlite3';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIGRATE_COMMAND,
  openEarlierEngine,
  readManifest,
  snapshot,
  unpackEarlierRelease,
  type Manifest,
} from '../fixtures/earlier-release/earlier-release.js';
import { runToExit, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call } from '../support/http-client.js';

/** Records as exact JSON text per id (numbers keep their digits), from a list page's text. */
function exactRecords(pageText: string): Map<string, string> {
  const page = parseLossless(pageText) as { items: { id: string; data: unknown }[] };
  return new Map(page.items.map((item) => [item.id, stringifyLossless(item.data) ?? '']));
}

describe('migrating a data directory of the earlier release', () => {
  let root: string;
  let manifest: Manifest;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-migration-'));
    manifest = await readManifest();
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  it('refuses to start beside the earlier data, migrates it, and then serves all of it', async () => {
    const dataDir = await unpackEarlierRelease(root, 'main');
    const env = { INTAKE_DATA_DIR: dataDir, INTAKE_POLL_INTERVAL_MS: '200' };
    const before = await snapshot(dataDir);

    const refused = await runToExit({ env });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('Intake failed to start');
    expect(refused.output).toContain('npm run migrate-data');
    expect(await snapshot(dataDir)).toEqual(before);

    const migration = await runToExit({ env, command: MIGRATE_COMMAND });
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

    // The job, as it finished under the earlier release; the view now also says that it
    // repeats no earlier file (`duplicateOf`, which the earlier release did not know).
    const job = await call(base, 'GET', `/v1/projects/legacy-acme/jobs/${manifest.job.id}`, { 'x-api-key': acmeKey });
    expect(job.status).toBe(200);
    expect(job.json).toEqual({ ...manifest.job, duplicateOf: null });

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

    const again = await runToExit({ env, command: MIGRATE_COMMAND });
    expect(again.code).toBe(0);
    expect(again.output).toContain('Nothing to do');
  });

  it('leaves behind an idempotency claim whose 24 hours have passed, and verifies the rest', async () => {
    const expiredAt = Math.floor(Date.now() / 1000) - 60;
    const dataDir = await unpackEarlierRelease(root, 'expired-claim', expiredAt);
    const migration = await runToExit({ env: { INTAKE_DATA_DIR: dataDir }, command: MIGRATE_COMMAND });
    expect(migration.code, migration.output).toBe(0);
    expect(migration.output).toContain('intake-control: 9 / 9 items copied');
    expect(migration.output).toContain('intake-legacy-acme-records: 9 / 9 items copied');
    const database = new Database(path.join(dataDir, 'intake.db'), { readonly: true });
    try {
      expect(database.prepare('SELECT COUNT(*) AS n FROM idempotency_claims').get()).toEqual({ n: 0 });
      expect(database.prepare('SELECT COUNT(*) AS n FROM projects').get()).toEqual({ n: manifest.projects.length });
    } finally {
      database.close();
    }
  });

  it('refuses to migrate while another process holds the earlier data, and changes nothing', async () => {
    const dataDir = await unpackEarlierRelease(root, 'held');
    const engine = await openEarlierEngine(path.join(dataDir, 'dynamodb'));
    try {
      // The engine opens its LevelDB lazily: a first call makes it take the lock.
      await engine.client.send(new ListTablesCommand({}));
      const before = await snapshot(dataDir);
      const refused = await runToExit({ env: { INTAKE_DATA_DIR: dataDir }, command: MIGRATE_COMMAND });
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

  it('refuses a directory without earlier data, and another table prefix than the earlier release used', async () => {
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const nothing = await runToExit({ env: { INTAKE_DATA_DIR: empty }, command: MIGRATE_COMMAND });
    expect(nothing.code).toBe(1);
    expect(nothing.output).toContain(`Migration failed: There is no data of an earlier release to migrate in ${empty}`);
    expect(await fs.readdir(empty)).toEqual([]);

    const dataDir = await unpackEarlierRelease(root, 'prefix');
    const wrongPrefix = await runToExit({ env: { INTAKE_DATA_DIR: dataDir, INTAKE_NAME_PREFIX: 'acme-' }, command: MIGRATE_COMMAND });
    expect(wrongPrefix.code).toBe(1);
    expect(wrongPrefix.output).toContain('holds no table acme-control');
    expect(wrongPrefix.output).toContain('INTAKE_NAME_PREFIX the earlier release used');
    expect((await fs.readdir(dataDir)).sort()).toEqual(['admin-token', 'dynamodb', 'objects']);
  });
});
