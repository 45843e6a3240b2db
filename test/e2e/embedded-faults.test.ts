// The embedded database file under faults a person must fix: held by another running
// instance, damaged (garbage over the header or a page in the middle), truncated. Each
// time the server refuses to start with a clear message and a non-zero exit, and the
// file is left byte for byte as it was.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ADMIN_TOKEN, runToExit, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call } from '../support/http-client.js';

const PROJECT = 'faults-e2e';
const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

/** Creates the project and a key; returns the key. */
async function createProjectAndKey(base: string): Promise<string> {
  expect((await call(base, 'POST', '/v1/projects', admin, JSON.stringify({ id: PROJECT, name: 'Faults' }))).status).toBe(201);
  const key = await call(base, 'POST', `/v1/projects/${PROJECT}/keys`, admin, JSON.stringify({ name: 'faults' }));
  expect(key.status).toBe(201);
  return String(key.json.key);
}

/** Pushes `count` records in one request; returns id → the record's JSON text as sent. */
async function pushRecords(base: string, key: string, tag: string, count: number): Promise<Map<string, string>> {
  const texts = Array.from({ length: count }, (_, i) => `{"tag":"${tag}","i":${i},"big":1234567890123456789012345.${i},"s":"ü ${'x'.repeat(i % 50)}"}`);
  const pushed = await call(base, 'POST', `/v1/projects/${PROJECT}/records`, { 'x-api-key': key, 'content-type': 'application/json' }, `[${texts.join(',')}]`);
  expect(pushed.status).toBe(200);
  expect(pushed.json.accepted).toBe(count);
  const records = pushed.json.records as { index: number; id: string }[];
  return new Map(records.map((r) => [r.id, texts[r.index]!]));
}

/** Reads each record back through the API and compares its data text exactly. */
async function expectRecords(base: string, key: string, expected: Map<string, string>): Promise<void> {
  for (const [id, text] of expected) {
    const response = await fetch(`${base}/v1/projects/${PROJECT}/records/${id}`, { headers: { 'x-api-key': key } });
    expect(response.status).toBe(200);
    const body = await response.text();
    // The record view writes `data` as the stored JSON text; cut it out of the envelope.
    expect(body).toContain(`"data":${text}`);
  }
}

describe('the embedded database file under faults', () => {
  let root: string;
  let server: ServerProcess | undefined;
  let key = '';
  let stored = new Map<string, string>();
  const env = (dir: string) => ({ INTAKE_DATA_DIR: dir, INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN, INTAKE_POLLER: 'off' });

  /** A data directory with a project, a key and 300 records, written by a server that then stopped. */
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-faults-'));
    const base = await spawnServer({ env: env(path.join(root, 'base')) });
    try {
      key = await createProjectAndKey(base.baseUrl);
      stored = await pushRecords(base.baseUrl, key, 'base', 300);
    } finally {
      expect((await base.stop()).code).toBe(0);
    }
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  /** A copy of the base data directory for one test. */
  async function copyOfBase(name: string): Promise<string> {
    const dir = path.join(root, name.replace(/\W+/g, '-'));
    await fs.cp(path.join(root, 'base'), dir, { recursive: true });
    return dir;
  }

  it('refuses a second instance on the same data directory while the first keeps serving', async () => {
    const dir = await copyOfBase('locked');
    const expected = new Map(stored);
    server = await spawnServer({ env: env(dir) });
    for (const [id, text] of await pushRecords(server.baseUrl, key, 'first', 50)) expected.set(id, text);

    const second = await runToExit({ env: env(dir) });
    expect(second.code).toBe(1);
    expect(second.output).toContain(
      `Intake failed to start: The embedded database ${path.join(dir, 'intake.db')} is in use by another running Intake process`,
    );

    // The first one never noticed: it reads and writes as before.
    for (const [id, text] of await pushRecords(server.baseUrl, key, 'after', 50)) expected.set(id, text);
    await expectRecords(server.baseUrl, key, expected);
    expect((await server.stop()).code).toBe(0);

    const check = new Database(path.join(dir, 'intake.db'), { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    server = await spawnServer({ env: env(dir) });
    await expectRecords(server.baseUrl, key, expected);
    expect((await server.stop()).code).toBe(0);
  });

  const damages: Array<[string, (file: string, size: number) => Promise<void>, RegExp]> = [
    [
      'garbage over the header',
      async (file) => {
        const handle = await fs.open(file, 'r+');
        await handle.write(randomBytes(100), 0, 100, 0);
        await handle.close();
      },
      /does not start with a SQLite header/,
    ],
    [
      'garbage over a page in the middle',
      async (file, size) => {
        const handle = await fs.open(file, 'r+');
        const page = Math.floor(size / 2 / 4096) * 4096;
        await handle.write(randomBytes(4096), 0, 4096, page);
        await handle.close();
      },
      /malformed|corrupt|btreeInitPage|Page \d+/i,
    ],
    ['a file cut to half its size', (file, size) => fs.truncate(file, Math.floor(size / 2)), /malformed|corrupt|Page \d+|truncat/i],
  ];

  for (const [name, damage, detail] of damages) {
    it(`refuses to start on ${name} and leaves the file as it is`, async () => {
      const dir = await copyOfBase(name);
      const file = path.join(dir, 'intake.db');
      const { size } = await fs.stat(file);
      expect(size).toBeGreaterThan(16 * 4096);
      await damage(file, size);
      const hash = await sha256(file);
      const entries = (await fs.readdir(dir)).sort();

      const refused = await runToExit({ env: env(dir) });
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(`Intake failed to start: The embedded database ${file} is damaged or truncated`);
      expect(refused.output).toMatch(detail);
      expect(refused.output).toContain('has changed nothing');
      expect(await sha256(file)).toBe(hash);
      expect((await fs.readdir(dir)).sort()).toEqual(entries);

      // Refused every time, never "repaired" into an empty store.
      const again = await runToExit({ env: env(dir) });
      expect(again.code).toBe(1);
      expect(await sha256(file)).toBe(hash);
    });
  }
});
