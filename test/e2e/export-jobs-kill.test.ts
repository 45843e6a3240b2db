// kill -9 of the embedded server in the middle of an export job, then a restart on the
// same data directory: the job is taken over once its lease has expired, resumes after
// its last checkpointed part, and its parts hold every record of the project exactly once.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/http-client.js';

const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const RECORDS = 20_000;
const PART_RECORDS = 50;
const PUSH_BATCH = 5000;

type JobView = {
  id: string;
  status: string;
  attempts: number;
  progress: { records: number; parts: number };
  parts: { name: string; records: number; sha256: string; url: string }[];
  manifest: string | null;
};

describe('kill -9 during an export job', () => {
  let root: string;
  let server: ServerProcess | undefined;
  const env = (dataDir: string) => ({
    INTAKE_DATA_DIR: dataDir,
    INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
    INTAKE_LOG_LEVEL: 'warn',
    INTAKE_RATE_LIMIT_REQUESTS: '1000000',
    INTAKE_POLL_INTERVAL_MS: '200',
    INTAKE_POLL_MAX_IDLE_INTERVAL_MS: '500',
    INTAKE_LEASE_MS: '2000',
    INTAKE_EXPORT_PART_RECORDS: String(PART_RECORDS),
  });

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-e2e-export-kill-'));
  });
  afterAll(async () => {
    if (server && !server.exited) await server.stop('SIGKILL');
    await fs.rm(root, { recursive: true, force: true });
  });

  it('resumes at the next part and exports each record exactly once', async () => {
    const dataDir = path.join(root, 'data');
    server = await spawnServer({ env: env(dataDir) });
    let base = server.baseUrl;
    const project = 'export-kill';
    expect((await fetch(`${base}/v1/projects`, { method: 'POST', headers: admin, body: JSON.stringify({ id: project, name: project }) })).status).toBe(201);
    const key = (await (await fetch(`${base}/v1/projects/${project}/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k' }) })).json()) as { key: string };
    const auth = { 'x-api-key': key.key };
    const ids = new Set<string>();
    for (let start = 0; start < RECORDS; start += PUSH_BATCH) {
      const lines = Array.from({ length: PUSH_BATCH }, (_, i) => JSON.stringify({ n: start + i, name: `customer ${start + i}`, city: 'Zürich', note: 'x'.repeat(100) }));
      const pushed = await fetch(`${base}/v1/projects/${project}/records`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
      expect(pushed.status).toBe(200);
      for (const record of ((await pushed.json()) as { records: { id: string }[] }).records) ids.add(record.id);
    }
    expect(ids.size).toBe(RECORDS);

    const started = await fetch(`${base}/v1/projects/${project}/exports`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ format: 'ndjson' }) });
    expect(started.status).toBe(202);
    const exportId = ((await started.json()) as { id: string }).id;
    const jobOf = async () => (await (await fetch(`${base}/v1/projects/${project}/exports/${exportId}`, { headers: auth })).json()) as JobView;

    // Some parts checkpointed, far from all: then the process dies without any cleanup.
    const atKill = await waitFor('a few finished parts', async () => {
      const job = await jobOf();
      expect(job.status).not.toBe('succeeded');
      return job.progress.parts >= 3 ? job : undefined;
    });
    server.signal('SIGKILL');
    await server.waitForExit(10_000);
    expect(atKill.progress.parts).toBeLessThan(RECORDS / PART_RECORDS);

    server = await spawnServer({ env: env(dataDir) });
    base = server.baseUrl;
    const done = await waitFor('the resumed export', async () => {
      const job = await jobOf();
      return job.status === 'succeeded' || job.status === 'failed' ? job : undefined;
    });
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(done.progress).toEqual(expect.objectContaining({ records: RECORDS, parts: RECORDS / PART_RECORDS }));
    // The parts checkpointed before the kill were kept as they were.
    expect(done.parts.slice(0, atKill.parts.length)).toEqual(atKill.parts);

    const seen = new Set<string>();
    let lines = 0;
    for (const part of done.parts) {
      const body = Buffer.from(await (await fetch(`${base}${part.url}`, { headers: auth })).arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex')).toBe(part.sha256);
      for (const line of body.toString('utf8').trimEnd().split('\n')) {
        seen.add((JSON.parse(line) as { id: string }).id);
        lines++;
      }
    }
    expect(lines).toBe(RECORDS);
    expect(seen).toEqual(ids);
    const manifest = (await (await fetch(`${base}${done.manifest}`, { headers: auth })).json()) as { records: number; parts: { sha256: string }[] };
    expect(manifest.records).toBe(RECORDS);
    expect(manifest.parts.map((part) => part.sha256)).toEqual(done.parts.map((part) => part.sha256));
    console.log(`[export-kill] killed at ${atKill.progress.parts} of ${done.parts.length} parts; resumed to exactly ${seen.size} records`);
    expect((await server.stop()).code).toBe(0);
  });
});
