// kill -9 of the server under load, then a restart on the same data directory: with the
// default INTAKE_SQLITE_SYNCHRONOUS=normal every acknowledged push is there with exact
// data, every push is stored whole or not at all, and a file job cut off midway resumes
// and ends with exactly the file's rows (none twice, none missing).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call, waitFor } from '../support/http-client.js';

const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const CLIENTS = 8;
const LOAD_MS = 2500;
const FILE_ROWS = 200_000;

const canonical = (json: string) => stringifyLossless(parseLossless(json)) ?? '';

interface StoredView {
  data: string;
  source: { type?: string; row?: number; jobId?: string };
}

/** Every record of a project: id → data (canonical exact JSON) and source. */
async function allRecords(base: string, project: string, key: string): Promise<Map<string, StoredView>> {
  const records = new Map<string, StoredView>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await fetch(`${base}/v1/projects/${project}/records?limit=1000${query}`, { headers: { 'x-api-key': key } });
    expect(page.status).toBe(200);
    const body = parseLossless(await page.text()) as { items: { id: string; data: unknown; source: unknown }[]; nextCursor: string | null };
    for (const item of body.items) {
      expect(records.has(item.id)).toBe(false);
      records.set(item.id, { data: stringifyLossless(item.data) ?? '', source: JSON.parse(stringifyLossless(item.source) ?? '{}') });
    }
    cursor = body.nextCursor;
  } while (cursor !== null);
  return records;
}

describe('kill -9 of the embedded server', () => {
  let root: string;
  let server: ServerProcess | undefined;
  const env = (dataDir: string) => ({
    INTAKE_DATA_DIR: dataDir,
    INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
    INTAKE_LOG_LEVEL: 'warn',
    INTAKE_RATE_LIMIT_REQUESTS: '1000000',
    INTAKE_POLL_INTERVAL_MS: '200',
    INTAKE_POLL_MAX_IDLE_INTERVAL_MS: '500',
    INTAKE_POLL_SETTLE_MS: '0',
    INTAKE_LEASE_MS: '2000',
    INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '200',
  });

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-durability-'));
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  async function startWithProject(dataDir: string, project: string): Promise<{ base: string; key: string }> {
    server = await spawnServer({ env: env(dataDir) });
    expect((await call(server.baseUrl, 'POST', '/v1/projects', admin, JSON.stringify({ id: project, name: project }))).status).toBe(201);
    const key = await call(server.baseUrl, 'POST', `/v1/projects/${project}/keys`, admin, JSON.stringify({ name: 'k' }));
    return { base: server.baseUrl, key: String(key.json.key) };
  }

  it('keeps every acknowledged push of a concurrent load, each push whole or absent', async () => {
    const project = 'durability-push';
    const dataDir = path.join(root, 'push');
    const { base, key } = await startWithProject(dataDir, project);

    interface Push {
      texts: string[];
      acked: Map<string, string> | null;
    }
    const pushes = new Map<string, Push>();
    let killed = false;
    const client = async (c: number) => {
      for (let n = 0; !killed; n++) {
        const tag = `c${c}-${n}`;
        const count = 1 + ((c + n) % 5);
        const texts = Array.from(
          { length: count },
          (_, i) => `{"tag":"${tag}","i":${i},"big":${c + 1}${n}98765432109876543210.0${i},"s":"Zoë ${tag} 😀"}`,
        );
        const push: Push = { texts, acked: null };
        pushes.set(tag, push);
        const headers: Record<string, string> = { 'x-api-key': key, 'content-type': 'application/json' };
        if (n % 2 === 0) headers['idempotency-key'] = `load-${tag}`;
        let response: Response;
        try {
          response = await fetch(`${base}/v1/projects/${project}/records`, { method: 'POST', headers, body: `[${texts.join(',')}]` });
          const body = (await response.json()) as { accepted: number; records: { index: number; id: string }[] };
          expect(response.status).toBe(200);
          expect(body.accepted).toBe(count);
          push.acked = new Map(body.records.map((r) => [r.id, texts[r.index]!]));
        } catch (error) {
          // Only the kill may cut a request off.
          if (!killed) throw error;
          return;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    const ackedBeforeKill = [...pushes.values()].filter((p) => p.acked !== null).length;
    expect(ackedBeforeKill).toBeGreaterThan(20);
    killed = true;
    server!.signal('SIGKILL');
    expect((await server!.waitForExit(10_000)).signal).toBe('SIGKILL');
    await Promise.all(clients);

    server = await spawnServer({ env: env(dataDir) });
    const stored = await allRecords(server.baseUrl, project, key);
    const byTag = new Map<string, number>();
    for (const record of stored.values()) {
      const tag = String((JSON.parse(record.data) as { tag: string }).tag);
      byTag.set(tag, (byTag.get(tag) ?? 0) + 1);
    }
    let acked = 0;
    let inFlightStored = 0;
    for (const [tag, push] of pushes) {
      const found = byTag.get(tag) ?? 0;
      if (push.acked === null) {
        // Cut off by the kill: all of it or none of it.
        expect([0, push.texts.length], `push ${tag}`).toContain(found);
        if (found > 0) inFlightStored++;
        continue;
      }
      acked++;
      expect(found, `acknowledged push ${tag}`).toBe(push.texts.length);
      for (const [id, text] of push.acked) expect(stored.get(id)?.data, `record ${id} of ${tag}`).toBe(canonical(text));
    }
    expect(byTag.size).toBeLessThanOrEqual(pushes.size);
    console.log(`[durability] ${acked} acknowledged pushes kept (${stored.size} records); ${inFlightStored} cut-off pushes stored whole`);
    expect((await server.stop()).code).toBe(0);
  });

  it('resumes a file job cut off midway and ends with exactly the file rows', async () => {
    const project = 'durability-job';
    const dataDir = path.join(root, 'job');
    const { base, key } = await startWithProject(dataDir, project);
    const lines = ['row,name,amount'];
    for (let i = 1; i <= FILE_ROWS; i++) lines.push(`${i},Ann ${i} ü,${i}0000000000000000000.${i % 97}`);
    const upload = await call(base, 'PUT', `/v1/projects/${project}/files/rows.csv`, { 'x-api-key': key }, `${lines.join('\n')}\n`);
    expect(upload.status, upload.text).toBe(202);
    const jobId = String(upload.json.jobId);

    const atKill = await waitFor('the job to be midway', async () => {
      const job = await call(base, 'GET', `/v1/projects/${project}/jobs/${jobId}`, { 'x-api-key': key });
      expect(job.json.status).not.toBe('succeeded');
      const written = Number(job.json.recordsWritten);
      return job.json.status === 'running' && written > 0 ? job.json : undefined;
    });
    server!.signal('SIGKILL');
    expect((await server!.waitForExit(10_000)).signal).toBe('SIGKILL');

    server = await spawnServer({ env: env(dataDir) });
    const job = await waitFor('the resumed job to finish', async () => {
      const reply = await call(server!.baseUrl, 'GET', `/v1/projects/${project}/jobs/${jobId}`, { 'x-api-key': key });
      return ['succeeded', 'partial', 'failed'].includes(String(reply.json.status)) ? reply.json : undefined;
    });
    expect(job).toMatchObject({ status: 'succeeded', rowsRead: FILE_ROWS, rowsRejected: 0 });
    expect(Number(job.attempts)).toBeGreaterThanOrEqual(2);

    const stored = await allRecords(server.baseUrl, project, key);
    expect(stored.size).toBe(FILE_ROWS);
    const rows = new Set<number>();
    for (const record of stored.values()) {
      expect(record.source.jobId).toBe(jobId);
      const row = Number(record.source.row);
      expect(Number.isInteger(row) && row >= 1 && row <= FILE_ROWS, `row ${row}`).toBe(true);
      rows.add(row);
      expect(record.data).toBe(JSON.stringify({ row: String(row), name: `Ann ${row} ü`, amount: `${row}0000000000000000000.${row % 97}` }));
    }
    expect(rows.size).toBe(FILE_ROWS);
    console.log(`[durability] job killed at ${String(atKill.recordsWritten)} of ${FILE_ROWS} rows; resumed to exactly ${rows.size}`);
    expect((await server.stop()).code).toBe(0);
  });
});
