// Graceful shutdown of the real server process (embedded mode on a temp data dir):
// SIGTERM mid-upload and mid-job. Nothing may be lost, the process must exit 0 within
// INTAKE_SHUTDOWN_TIMEOUT_MS, and a second server on the same data resumes the job.
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';

const SHUTDOWN_TIMEOUT_MS = 20_000;
const DRAIN_DELAY_MS = 1500;
const PROJECT = 'shutdown-e2e';
const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}` };

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request as curl would send it; `agent` decides whether the connection is kept alive. */
function send(
  baseUrl: string,
  method: string,
  urlPath: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${urlPath}`, { method, headers: options.headers, agent: options.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (reply: Reply) => JSON.parse(reply.body) as Record<string, unknown>;

function csvRows(from: number, to: number): string {
  let text = '';
  for (let i = from; i <= to; i++) text += `${i},name-${i},${i * 3}\n`;
  return text;
}

describe('graceful shutdown (spawned server, embedded mode)', () => {
  let dataDir: string;
  let key: string;
  const servers: ServerProcess[] = [];
  const env = (extra: Record<string, string> = {}) => ({
    INTAKE_DATA_DIR: dataDir,
    INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
    INTAKE_POLL_INTERVAL_MS: '100',
    INTAKE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    // Request lines too: the output is printed when a step fails.
    INTAKE_LOG_LEVEL: 'http',
    // This test polls job status often; the per-key limit is not what it tests.
    INTAKE_RATE_LIMIT_REQUESTS: '100000',
    ...extra,
  });
  const start = async (extra: Record<string, string> = {}) => {
    const server = await spawnServer({ env: env(extra) });
    servers.push(server);
    // What the server said is the first thing to read when a step here fails.
    onTestFailed(() => console.log(`--- server ${server.pid} output ---\n${server.logs().slice(-8000)}`));
    return server;
  };
  const job = async (server: ServerProcess, jobId: string) =>
    json(await send(server.baseUrl, 'GET', `/v1/projects/${PROJECT}/jobs/${jobId}`, { headers: { 'x-api-key': key } }));
  const waitForJob = async (server: ServerProcess, jobId: string, done: (j: Record<string, unknown>) => boolean, ms: number) => {
    const until = Date.now() + ms;
    for (;;) {
      const current = await job(server, jobId);
      if (done(current)) return current;
      if (Date.now() > until) throw new Error(`job ${jobId} did not reach the expected state: ${JSON.stringify(current)}`);
      await sleep(200);
    }
  };

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-shutdown-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  let slowJobId: string;
  const SLOW_ROWS = 400;

  it('drains on SIGTERM: /readyz 503 at once, listener closes, the in-flight upload completes, exit 0', async () => {
    const server = await start({ INTAKE_SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) });
    expect((await send(server.baseUrl, 'POST', '/v1/projects', { headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ id: PROJECT, name: 'Shutdown' }) })).status).toBe(201);
    const created = await send(server.baseUrl, 'POST', `/v1/projects/${PROJECT}/keys`, { headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e' }) });
    expect(created.status).toBe(201);
    key = json(created).key as string;

    // An idle keep-alive connection must not hold the stop open (keepAliveTimeout is 65 s).
    const keepAlive = new http.Agent({ keepAlive: true });
    expect((await send(server.baseUrl, 'GET', '/healthz', { agent: keepAlive })).status).toBe(200);

    // A chunked upload that trickles in over ~3 s, well past the SIGTERM and the drain delay.
    const upload = http.request(`${server.baseUrl}/v1/projects/${PROJECT}/files/slow.csv`, {
      method: 'PUT',
      agent: keepAlive,
      headers: { 'x-api-key': key, 'content-type': 'text/csv' },
    });
    const uploadReply = new Promise<Reply>((resolve, reject) => {
      upload.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      upload.on('error', reject);
    });
    upload.write('id,name,amount\n');
    upload.write(csvRows(1, 20));
    await sleep(300);

    server.signal('SIGTERM');
    const signalledAt = Date.now();
    let readyz: Reply;
    for (;;) {
      readyz = await send(server.baseUrl, 'GET', '/readyz');
      if (readyz.status === 503 || Date.now() - signalledAt > 1000) break;
      await sleep(20);
    }
    const readyzMs = Date.now() - signalledAt;
    expect(readyz.status).toBe(503);
    expect(json(readyz).status).toBe('shutting_down');
    expect(readyzMs).toBeLessThan(1000);

    // Keep the upload going in 100 ms steps; after the drain delay new connections are refused.
    let refusedAt: number | undefined;
    for (let row = 21; row <= SLOW_ROWS; row += 20) {
      upload.write(csvRows(row, row + 19));
      await sleep(100);
      if (refusedAt === undefined) {
        const probe = await send(server.baseUrl, 'GET', '/healthz').catch((error: NodeJS.ErrnoException) => error);
        if (probe instanceof Error) {
          expect(probe.code).toBe('ECONNREFUSED');
          refusedAt = Date.now();
        }
      }
    }
    upload.end();
    const reply = await uploadReply;
    const uploadDoneAt = Date.now();
    expect(reply.status).toBe(202);
    // The response tells the keep-alive client to go away, so its socket cannot hold the drain.
    expect(reply.headers.connection).toBe('close');
    slowJobId = json(reply).jobId as string;
    expect(refusedAt).toBeDefined();
    expect(refusedAt! - signalledAt).toBeGreaterThanOrEqual(DRAIN_DELAY_MS - 100);

    const exit = await server.waitForExit(SHUTDOWN_TIMEOUT_MS + 2000);
    keepAlive.destroy();
    const uploadDoneToExitMs = signalledAt + exit.ms - uploadDoneAt;
    console.log(
      `[shutdown] upload: readyz 503 after ${readyzMs} ms, listener closed after ${refusedAt! - signalledAt} ms, ` +
        `exit ${exit.code} ${exit.ms} ms after SIGTERM, ${uploadDoneToExitMs} ms after the upload's 202`,
    );
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(uploadDoneToExitMs).toBeLessThan(3000);
    const events = server.events().map((e) => e.event);
    expect(events).toContain('shutdown_started');
    expect(events).toContain('stopped');
    expect(events).not.toContain('shutdown_forcing');
  }, 60_000);

  let bigJobId: string;
  // Long enough to be running well past its first checkpoint (every 2 s) on a fast
  // machine: 30,000 rows once finished before the first check saw it running.
  const BIG_ROWS = 200_000;

  it('SIGTERM during a job: the job checkpoints, releases its lease, and the process exits 0 in time', async () => {
    // A lease far longer than the test waits: the next server can only resume at once if
    // this one released the lease on its way out.
    // One batch in flight at a time: the job runs for seconds, not a second.
    // Checkpoints every 100 ms: on the SQLite store the 200k rows take a few seconds, and
    // written rows must show while the job still runs.
    const server = await start({ INTAKE_LEASE_MS: '120000', INTAKE_WRITE_CONCURRENCY: '1', INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '100' });
    // The upload that finished during the last drain is ingested by this server.
    const slow = await waitForJob(server, slowJobId, (j) => j.status === 'succeeded', 20_000);
    expect(slow.recordsWritten).toBe(SLOW_ROWS);

    const body = `id,name,amount\n${csvRows(1, BIG_ROWS)}`;
    const uploaded = await send(server.baseUrl, 'PUT', `/v1/projects/${PROJECT}/files/big.csv`, {
      headers: { 'x-api-key': key, 'content-type': 'text/csv' },
      body,
    });
    expect(uploaded.status).toBe(202);
    bigJobId = json(uploaded).jobId as string;
    // At least one checkpoint saved, and the job still far from done.
    const running = await waitForJob(server, bigJobId, (j) => j.status !== 'queued' && Number(j.recordsWritten) > 0, 30_000);
    expect(running.status).toBe('running');

    const exit = await server.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + 5000);
    console.log(`[shutdown] job: exit ${exit.code} ${exit.ms} ms after SIGTERM (job at ${String(running.recordsWritten)} rows)`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    const released = server.events().find((e) => e.event === 'job_released' && e.jobId === bigJobId);
    expect(released).toBeDefined();
  }, 90_000);

  it('a second server on the same data resumes the job from its checkpoint and stores every row exactly once', async () => {
    const server = await start({ INTAKE_LEASE_MS: '120000' });
    const done = await waitForJob(server, bigJobId, (j) => j.status !== 'queued' && j.status !== 'running', 45_000);
    expect(done).toMatchObject({ status: 'succeeded', rowsRead: BIG_ROWS, recordsWritten: BIG_ROWS, rowsRejected: 0 });
    const resumed = server.events().find((e) => e.event === 'job_started' && e.jobId === bigJobId);
    expect(Number(resumed?.resumeAfterRow)).toBeGreaterThan(0);

    // Read every record back through the API, as a client would.
    const rows = new Map<number, number>();
    const ids = new Set<number>();
    let other = 0;
    let cursor: string | null = null;
    do {
      const page = json(
        await send(server.baseUrl, 'GET', `/v1/projects/${PROJECT}/records?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
          headers: { 'x-api-key': key },
        }),
      ) as { items: Array<{ data: { id: number }; source: { jobId?: string; row?: number } }>; nextCursor: string | null };
      for (const item of page.items) {
        if (item.source.jobId !== bigJobId) {
          other++;
          continue;
        }
        rows.set(item.source.row!, (rows.get(item.source.row!) ?? 0) + 1);
        ids.add(Number(item.data.id));
      }
      cursor = page.nextCursor;
    } while (cursor);
    expect(rows.size).toBe(BIG_ROWS);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    expect(ids.size).toBe(BIG_ROWS);
    expect([...ids].reduce((a, b) => Math.min(a, b))).toBe(1);
    expect([...ids].reduce((a, b) => Math.max(a, b))).toBe(BIG_ROWS);
    expect(other).toBe(SLOW_ROWS);

    const exit = await server.stop('SIGTERM');
    expect(exit.code).toBe(0);
  }, 90_000);

  it('cuts off a request that would outlast the bound, and still exits within INTAKE_SHUTDOWN_TIMEOUT_MS', async () => {
    const ownDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-shutdown-bound-'));
    try {
      const server = await spawnServer({
        env: { INTAKE_DATA_DIR: ownDir, INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN, INTAKE_SHUTDOWN_TIMEOUT_MS: '4000', INTAKE_LOG_LEVEL: 'http' },
      });
      servers.push(server);
      const headers = { ...admin, 'content-type': 'application/json' };
      expect((await send(server.baseUrl, 'POST', '/v1/projects', { headers, body: JSON.stringify({ id: 'stall', name: 'Stall' }) })).status).toBe(201);
      // An upload that sends a few bytes and then nothing: it would hold the drain forever.
      const stalled = http.request(`${server.baseUrl}/v1/projects/stall/files/stalled.csv`, {
        method: 'PUT',
        agent: false,
        headers: { ...admin, 'content-type': 'text/csv' },
      });
      const outcome = new Promise<string>((resolve) => {
        stalled.on('response', (res) => resolve(`status ${res.statusCode}`));
        stalled.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      stalled.write('a,b\n1,2\n');
      await sleep(300);
      const exit = await server.stop('SIGTERM', 10_000);
      console.log(`[shutdown] stalled upload: exit ${exit.code} ${exit.ms} ms after SIGTERM (bound 4000 ms)`);
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.ms).toBeLessThan(4000);
      expect(await outcome).toMatch(/ECONNRESET|socket hang up/);
      const events = server.events();
      expect(events.find((e) => e.event === 'shutdown_forcing')).toMatchObject({ inFlightRequests: 1 });
      expect(events.find((e) => e.event === 'stopped')).toMatchObject({ connectionsCut: 1 });
    } finally {
      await fs.rm(ownDir, { recursive: true, force: true });
    }
  }, 30_000);
});
