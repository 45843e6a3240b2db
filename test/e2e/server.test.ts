import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call } from '../support/http-client.js';

/**
 * The real server, started the way `npm start` starts it (embedded storage, generated
 * admin token), driven over HTTP like curl would, stopped and started again on the same
 * data directory.
 */

const TERMINAL = new Set(['succeeded', 'partial', 'failed']);

async function waitForJob(base: string, projectId: string, jobId: string, key: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await call(base, 'GET', `/v1/projects/${projectId}/jobs/${jobId}`, { 'X-API-Key': key });
    if (job.status === 200 && TERMINAL.has(String(job.json.status))) return job.json;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${job.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every record id of a project, paging through the API with the largest page. */
async function allRecordIds(base: string, projectId: string, key: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await call(base, 'GET', `/v1/projects/${projectId}/records?limit=1000${query}`, { 'X-API-Key': key });
    expect(page.status).toBe(200);
    for (const item of page.json.items as { id: string }[]) ids.push(item.id);
    cursor = page.json.nextCursor as string | null;
  } while (cursor !== null);
  return ids;
}

function customerCsv(rows: number): Buffer {
  const lines = ['Index,Customer Id,First Name,Last Name,Company,City,Country,Phone 1,Email'];
  for (let i = 1; i <= rows; i++) {
    lines.push(`${i},C${String(i).padStart(9, '0')},Ann${i},"Lee, ${i}",Acme ${i % 97},Leeds,UK,0${7700900000 + i},a${i}@example.com`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}

describe('the server as npm start runs it', () => {
  let dir: string;
  let server: ServerProcess | undefined;
  const env = () => ({ INTAKE_DATA_DIR: path.join(dir, 'data'), INTAKE_POLL_INTERVAL_MS: '200', INTAKE_LEASE_MS: '2000' });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-'));
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('generates an admin token once, serves the API, and keeps every thing across a restart', async () => {
    const spawnedAt = Date.now();
    server = await spawnServer({ env: env() });
    let readyMs = 0;
    for (;;) {
      const ready = await fetch(`${server.baseUrl}/readyz`);
      if (ready.status === 200) {
        readyMs = Date.now() - spawnedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`[e2e] npm start code path: /readyz healthy ${readyMs} ms after spawn`);
    const token = (await fs.readFile(path.join(dir, 'data', 'admin-token'), 'utf8')).trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(server.logs().split(token).length - 1).toBe(1); // printed exactly once
    const admin = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const base = server.baseUrl;

    expect((await call(base, 'POST', '/v1/projects', admin, JSON.stringify({ id: 'keep', name: 'Keep' }))).status).toBe(201);
    const issued = await call(base, 'POST', '/v1/projects/keep/keys', admin, JSON.stringify({ name: 'e2e' }));
    const key = String(issued.json.key);
    const pushed = await call(
      base,
      'POST',
      '/v1/projects/keep/records',
      { 'X-API-Key': key, 'Content-Type': 'application/json' },
      '[{"n":12345678901234567890123,"s":"żółć 🚀"},{"nested":{"a":[1,null,true]}}]',
    );
    expect(pushed.status).toBe(200);
    const ids = (pushed.json.records as { id: string }[]).map((r) => r.id);
    const upload = await call(base, 'PUT', '/v1/projects/keep/files/people.csv', { 'X-API-Key': key }, customerCsv(50));
    expect(upload.status).toBe(202);
    const job = await waitForJob(base, 'keep', String(upload.json.jobId), key);
    expect(job).toMatchObject({ status: 'succeeded', rowsRead: 50, recordsWritten: 50 });

    const stopped = await server.stop('SIGTERM');
    expect(stopped.code).toBe(0);

    server = await spawnServer({ env: env() });
    const restarted = server.baseUrl;
    expect(server.logs()).not.toContain(token);
    expect((await call(restarted, 'GET', '/v1/projects/keep', admin)).status).toBe(200);
    const first = await call(restarted, 'GET', `/v1/projects/keep/records/${ids[0]}`, { 'X-API-Key': key });
    expect(first.status).toBe(200);
    expect(first.text).toContain('"data":{"n":12345678901234567890123,"s":"żółć 🚀"}');
    expect((await allRecordIds(restarted, 'keep', key)).length).toBe(52);
    const jobAgain = await call(restarted, 'GET', `/v1/projects/keep/jobs/${String(upload.json.jobId)}`, { 'X-API-Key': key });
    expect(jobAgain.json).toMatchObject({ status: 'succeeded', recordsWritten: 50 });
    expect((await server.stop('SIGTERM')).code).toBe(0);
  });

  it('stores every row exactly once when the server is killed with SIGKILL mid-file', async () => {
    const rows = 200_000;
    // Checkpoints every 100 ms, so the job shows written rows well before it ends.
    const crashEnv = { ...env(), INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '100' };
    server = await spawnServer({ env: crashEnv });
    const token = (await fs.readFile(path.join(dir, 'data', 'admin-token'), 'utf8')).trim();
    const admin = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    expect((await call(server.baseUrl, 'POST', '/v1/projects', admin, JSON.stringify({ id: 'crash', name: 'Crash' }))).status).toBe(201);
    const key = String((await call(server.baseUrl, 'POST', '/v1/projects/crash/keys', admin, JSON.stringify({ name: 'k' }))).json.key);
    const upload = await call(server.baseUrl, 'PUT', '/v1/projects/crash/files/big.csv', { 'X-API-Key': key }, customerCsv(rows));
    expect(upload.status).toBe(202);
    const jobId = String(upload.json.jobId);

    // Kill as soon as the job has checkpointed some rows but not finished.
    const deadline = Date.now() + 60_000;
    let killedAt = -1;
    while (Date.now() < deadline) {
      const job = await call(server.baseUrl, 'GET', `/v1/projects/crash/jobs/${jobId}`, { 'X-API-Key': key });
      const written = Number(job.json.recordsWritten ?? 0);
      if (TERMINAL.has(String(job.json.status))) throw new Error('job finished before it could be killed; raise rows');
      if (job.json.status === 'running' && written > 0) {
        killedAt = written;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(killedAt).toBeGreaterThan(0);
    const killed = await server.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    server = await spawnServer({ env: crashEnv });
    const job = await waitForJob(server.baseUrl, 'crash', jobId, key);
    expect(job).toMatchObject({ status: 'succeeded', rowsRead: rows, recordsWritten: rows, rowsRejected: 0 });
    expect(Number(job.attempts)).toBeGreaterThanOrEqual(2);
    const ids = await allRecordIds(server.baseUrl, 'crash', key);
    expect(ids.length).toBe(rows);
    expect(new Set(ids).size).toBe(rows);
    expect((await server.stop('SIGTERM')).code).toBe(0);
  });
});

describe("the README's curl tour", () => {
  it('runs as written against a fresh server, and again on the same data', async () => {
    const readme = await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const tour = readme.slice(readme.indexOf('<!-- tour:start -->'), readme.indexOf('<!-- tour:end -->'));
    const script = [...tour.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    expect(script).toContain('curl');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-tour-'));
    const server = await spawnServer({ env: { INTAKE_DATA_DIR: path.join(dir, 'data'), INTAKE_POLL_INTERVAL_MS: '200' } });
    const runTour = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
          cwd: dir,
          env: { ...process.env, INTAKE: server.baseUrl },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    try {
      // The second run finds the project, the earlier key (revoked) and the records of the first.
      for (const run of [1, 2]) {
        const result = await runTour();
        expect(result.out, `run ${run}`).not.toContain('internal_error');
        expect(result.code, `run ${run}: ${result.out}`).toBe(0);
        expect(result.out).toContain('"status":"ready"');
        expect(result.out).toContain('"id":"acme"');
        if (run === 2) expect(result.out).toContain('"code":"project_exists"');
        expect(result.out).toContain('"accepted":1');
        // Read back by id: every digit as sent (the pages need not hold a given record).
        expect(result.out).toContain('"ltv":0.1000000000000000055511151231257827');
        expect(result.out).toContain('"code":"not_an_object"');
        expect(result.out).toContain('"code":"invalid_json"');
        expect(result.out).toContain('"status":"succeeded"');
        expect(result.out).toContain('"status":"revoked"');
        // The key revoked is the one this run issued: its last request is refused.
        expect(result.out.trimEnd()).toMatch(/"code":"unauthenticated","message":"The API key is revoked\."[^\n]*$/);
      }
    } finally {
      await server.stop('SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
