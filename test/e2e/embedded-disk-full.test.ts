// A full disk under the embedded store, for real: the data directory sits on a small
// tmpfs (this machine and CI run as root), filled by a filler file. Pushes are answered
// 503 storage_unavailable with Retry-After and are stored whole or not at all; an upload
// is refused the same way and leaves nothing behind; a job that runs into the full disk
// is released and retried, never failed. Once the filler is gone the same process
// recovers: pushes succeed and the job finishes with every row exactly once.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';
import { call, waitFor } from '../support/http-client.js';

const PROJECT = 'disk-full-e2e';
const MiB = 1024 * 1024;
const TMPFS_MIB = 64;
const CSV_ROWS = 20_000;
const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** Polls `probe` until it returns a value, failing after `timeoutMs`. */

const canonical = (json: string) => stringifyLossless(parseLossless(json)) ?? '';

/** Every record of the project: id → {data as canonical exact JSON, source}. */
async function allRecords(base: string, key: string) {
  const records = new Map<string, { data: string; source: Record<string, unknown> }>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await fetch(`${base}/v1/projects/${PROJECT}/records?limit=1000${query}`, { headers: { 'x-api-key': key } });
    expect(page.status).toBe(200);
    const body = parseLossless(await page.text()) as { items: { id: string; data: unknown; source: unknown }[]; nextCursor: string | null };
    for (const item of body.items) {
      records.set(item.id, { data: stringifyLossless(item.data) ?? '', source: JSON.parse(stringifyLossless(item.source) ?? '{}') });
    }
    cursor = body.nextCursor;
  } while (cursor !== null);
  return records;
}

/** Writes `bytes` of zeros (tmpfs allocates them) in 1 MiB steps; stops early when the disk is full. */
async function writeFiller(file: string, bytes: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    const chunk = Buffer.alloc(MiB);
    for (let written = 0; written < bytes; written += chunk.length) {
      await handle.write(chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await fs.statfs(dir);
  return stats.bavail * stats.bsize;
}

function customersCsv(rows: number): Buffer {
  const lines = ['row,name,amount'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},Nâme ${i} 😀,123456789012345678901234.${i}`);
  return Buffer.from(`${lines.join('\n')}\n`);
}

describe('the embedded store on a full disk', () => {
  let root: string;
  let mount: string;
  let mounted = false;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-disk-full-'));
    mount = path.join(root, 'disk');
    await fs.mkdir(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m`, 'tmpfs', mount]);
    mounted = true;
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    if (mounted) execFileSync('umount', [mount]);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('answers 503 while the disk is full, loses nothing acknowledged, and recovers without a restart', async () => {
    onTestFailed(() => {
      const events = server?.events().filter((e) => e.event !== 'http_request' && e.event !== 'request') ?? [];
      const shown = events.filter((e, i) => e.event !== events[i - 1]?.event);
      console.log(`server events (repeats folded):\n${shown.map((e) => JSON.stringify(e).slice(0, 600)).join('\n')}`);
    });
    server = await spawnServer({
      env: {
        INTAKE_DATA_DIR: path.join(mount, 'data'),
        INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
        INTAKE_POLL_INTERVAL_MS: '200',
        INTAKE_POLL_MAX_IDLE_INTERVAL_MS: '500',
        INTAKE_POLL_SETTLE_MS: '0',
        INTAKE_LEASE_MS: '2000',
        INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '200',
      },
    });
    const base = server.baseUrl;
    expect((await call(base, 'POST', '/v1/projects', admin, JSON.stringify({ id: PROJECT, name: 'Disk full' }))).status).toBe(201);
    const key = String((await call(base, 'POST', `/v1/projects/${PROJECT}/keys`, admin, JSON.stringify({ name: 'k' }))).json.key);
    const push = (body: string, idempotencyKey?: string) =>
      call(base, 'POST', `/v1/projects/${PROJECT}/records`, {
        'x-api-key': key,
        'content-type': 'application/json',
        ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
      }, body);

    // Fill the disk but for ~2 MiB; a reserve of 3 MiB is freed later for the upload.
    const reserve = path.join(mount, 'filler-reserve');
    const filler = path.join(mount, 'filler');
    await writeFiller(reserve, 3 * MiB);
    await writeFiller(filler, (await freeBytes(mount)) - 2 * MiB);

    // 1. Pushes until the disk is full: 200 or 503, never anything else.
    const batches = new Map<string, { texts: string[]; idempotencyKey?: string; acked: Map<string, string> | null }>();
    let consecutiveUnavailable = 0;
    for (let n = 0; consecutiveUnavailable < 3; n++) {
      expect(n, 'the disk never filled up').toBeLessThan(2000);
      const tag = `b${n}`;
      const texts = Array.from({ length: 100 }, (_, i) => `{"tag":"${tag}","i":${i},"n":9876543210987654321.${i},"s":"${'ü'.repeat(200)}"}`);
      const idempotencyKey = n % 2 === 0 ? `full-${n}` : undefined;
      const reply = await push(`[${texts.join(',')}]`, idempotencyKey);
      expect([200, 503], reply.text).toContain(reply.status);
      if (reply.status === 200) {
        consecutiveUnavailable = 0;
        const records = reply.json.records as { index: number; id: string }[];
        batches.set(tag, { texts, idempotencyKey, acked: new Map(records.map((r) => [r.id, texts[r.index]!])) });
      } else {
        consecutiveUnavailable++;
        expect((reply.json.error as { code: string }).code).toBe('storage_unavailable');
        expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
        batches.set(tag, { texts, idempotencyKey, acked: null });
      }
    }
    const refusedTags = [...batches].filter(([, b]) => b.acked === null).map(([tag]) => tag);
    expect(refusedTags.length).toBeGreaterThanOrEqual(3);
    expect([...batches.values()].filter((b) => b.acked !== null).length).toBeGreaterThan(0);

    // 2. An upload on the full disk: 503, and neither object nor job is left.
    // A body small enough to be sent whole before the answer: the server closes a connection
    // whose upload it refused mid-body rather than drain it, and fetch reports that close
    // instead of the answer when it is still sending.
    const refusedUpload = await call(base, 'PUT', `/v1/projects/${PROJECT}/files/refused.csv`, { 'x-api-key': key }, customersCsv(200));
    expect(refusedUpload.status, refusedUpload.text).toBe(503);
    expect((refusedUpload.json.error as { code: string }).code).toBe('storage_unavailable');
    expect(Number(refusedUpload.headers.get('retry-after'))).toBeGreaterThan(0);
    const bucketDir = path.join(mount, 'data', 'objects', `intake-${PROJECT}`);
    const leftovers = (await fs.readdir(bucketDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(leftovers.map((e) => e.name)).toEqual([]);
    expect((await call(base, 'GET', `/v1/projects/${PROJECT}/jobs`, { 'x-api-key': key })).json.items).toEqual([]);

    // 3. Room for the file but not for its records: the job runs into the full disk and
    // is released; the poller keeps trying (its claim is a write too) and never fails it.
    await fs.rm(reserve);
    const csv = customersCsv(CSV_ROWS);
    const upload = await call(base, 'PUT', `/v1/projects/${PROJECT}/files/customers.csv`, { 'x-api-key': key }, csv);
    expect(upload.status, upload.text).toBe(202);
    const jobId = String(upload.json.jobId);
    await waitFor('the job to be released and the poller to retry', async () => {
      const events = server!.events();
      const released = events.findIndex((e) => e.event === 'job_released' && e.jobId === jobId);
      if (released < 0) return undefined;
      expect(String(events[released]!.error)).toContain('Storage is unavailable');
      const retries = events.slice(released + 1).filter((e) => e.event === 'poll_failed' || (e.event === 'job_released' && e.jobId === jobId));
      return retries.length >= 3 ? retries : undefined;
    });
    const waiting = await call(base, 'GET', `/v1/projects/${PROJECT}/jobs/${jobId}`, { 'x-api-key': key });
    expect(['queued', 'running']).toContain(waiting.json.status);
    // A one-record push may still find room: SQLite writes its frames into WAL space the
    // file already holds (the WAL is kept up to its size limit between checkpoints), while
    // the job's window needs new pages. Either it is refused whole or it is stored for good.
    const stillFull = await push('{"tag":"still-full"}');
    expect([200, 503], stillFull.text).toContain(stillFull.status);
    if (stillFull.status === 503) expect((stillFull.json.error as { code: string }).code).toBe('storage_unavailable');
    const stillFullStored = stillFull.status === 200 ? 1 : 0;

    // 4. Space again: the same process recovers.
    await fs.rm(filler);
    const job = await waitFor('the job to finish', async () => {
      const reply = await call(base, 'GET', `/v1/projects/${PROJECT}/jobs/${jobId}`, { 'x-api-key': key });
      return ['succeeded', 'partial', 'failed'].includes(String(reply.json.status)) ? reply.json : undefined;
    }, 45_000);
    expect(job).toMatchObject({ status: 'succeeded', rowsRead: CSV_ROWS, rowsRejected: 0 });
    const after = await push('{"tag":"after"}');
    expect(after.status).toBe(200);
    // A refused push retried with its Idempotency-Key is stored whole.
    const retriedTag = refusedTags.find((tag) => batches.get(tag)!.idempotencyKey !== undefined)!;
    const retried = batches.get(retriedTag)!;
    const retry = await push(`[${retried.texts.join(',')}]`, retried.idempotencyKey);
    expect(retry.status, retry.text).toBe(200);
    expect(retry.json.accepted).toBe(100);
    retried.acked = new Map((retry.json.records as { index: number; id: string }[]).map((r) => [r.id, retried.texts[r.index]!]));
    expect(server.exited).toBe(false);

    // Nothing acknowledged is lost, every push is whole or absent, every row is there once.
    const stored = await allRecords(base, key);
    const byTag = new Map<string, number>();
    const rows = new Set<number>();
    for (const record of stored.values()) {
      if (record.source.type === 'file') {
        expect(record.source.jobId).toBe(jobId);
        const row = Number(record.source.row);
        expect(rows.has(row)).toBe(false);
        rows.add(row);
        expect(JSON.parse(record.data)).toEqual({ row: String(row), name: `Nâme ${row} 😀`, amount: `123456789012345678901234.${row}` });
      } else {
        const tag = String((JSON.parse(record.data) as { tag: string }).tag);
        byTag.set(tag, (byTag.get(tag) ?? 0) + 1);
      }
    }
    expect(rows.size).toBe(CSV_ROWS);
    expect(Math.min(...rows)).toBe(1);
    expect(Math.max(...rows)).toBe(CSV_ROWS);
    for (const [tag, batch] of batches) {
      if (batch.acked === null) {
        expect(byTag.get(tag) ?? 0, `refused push ${tag}`).toBe(0);
        continue;
      }
      expect(byTag.get(tag), `acknowledged push ${tag}`).toBe(100);
      for (const [id, text] of batch.acked) expect(stored.get(id)?.data, id).toBe(canonical(text));
    }
    expect(byTag.get('after')).toBe(1);
    expect(byTag.get('still-full') ?? 0).toBe(stillFullStored);
    // Whatever the disk said, no request was answered with a 5xx other than 503.
    const failures = server.events().filter((e) => e.event === 'http_request' && Number(e.status) >= 500 && e.status !== 503);
    expect(failures).toEqual([]);
    expect((await server.stop()).code).toBe(0);
  });
});
