// A migration of the earlier release's data directory that did not run to its end: a
// run killed while copying, one that left a partial work file, one stopped between its
// two renames. Running the command again always ends with all of the data, verified;
// an intake.db that does not match the earlier data is never overwritten.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addEarlierRecords,
  MIGRATE_COMMAND,
  readManifest,
  unpackEarlierRelease,
  type Manifest,
} from '../fixtures/earlier-release/earlier-release.js';
import { runToExit, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call } from '../support/http-client.js';

describe('an interrupted migration of the earlier data', () => {
  let root: string;
  let manifest: Manifest;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-migration-interrupted-'));
    manifest = await readManifest();
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  it('starts over after a run that stopped midway, and finishes one that stopped between its renames', async () => {
    const dataDir = await unpackEarlierRelease(root, 'interrupted');
    const env = { INTAKE_DATA_DIR: dataDir };
    // What a run killed while copying leaves: a partial work file and its WAL.
    await fs.writeFile(path.join(dataDir, 'intake.db.migrating'), 'partial copy');
    await fs.writeFile(path.join(dataDir, 'intake.db.migrating-wal'), 'partial log');
    const first = await runToExit({ env, command: MIGRATE_COMMAND });
    expect(first.code, first.output).toBe(0);
    expect((await fs.readdir(dataDir)).sort()).toEqual(['admin-token', 'dynamodb.migrated', 'intake.db', 'objects']);

    // A run stopped after intake.db was in place but before dynamodb/ was renamed.
    await fs.rename(path.join(dataDir, 'dynamodb.migrated'), path.join(dataDir, 'dynamodb'));
    const refused = await runToExit({ env });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('npm run migrate-data');
    const second = await runToExit({ env, command: MIGRATE_COMMAND });
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
    const mismatch = await runToExit({ env, command: MIGRATE_COMMAND });
    expect(mismatch.code).toBe(1);
    expect(mismatch.output).toContain('does not hold the same data');
    expect(mismatch.output).toContain('Nothing was changed');
    expect(createHash('sha256').update(await fs.readFile(path.join(dataDir, 'intake.db'))).digest('hex')).toBe(otherHash);
    expect(await fs.stat(path.join(dataDir, 'dynamodb')).then((s) => s.isDirectory())).toBe(true);
  });

  it('starts over after a run killed while copying, and ends with every record', async () => {
    const dataDir = await unpackEarlierRelease(root, 'killed');
    const env = { INTAKE_DATA_DIR: dataDir };
    const added = 20_000;
    await addEarlierRecords(path.join(dataDir, 'dynamodb'), added);
    const total = 9 + added;

    const killed = await runToExit({
      env,
      command: MIGRATE_COMMAND,
      killWhen: (output) => output.includes(`intake-legacy-acme-records: 0 / ${total} items copied`),
    });
    expect(killed.signal, killed.output).toBe('SIGKILL');
    const left = await fs.readdir(dataDir);
    expect(left).toContain('dynamodb');
    expect(left).toContain('intake.db.migrating');
    expect(left).not.toContain('intake.db');

    const rerun = await runToExit({ env, command: MIGRATE_COMMAND });
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
});
