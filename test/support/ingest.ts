// Helpers for the file-ingestion tests: a project with a key, pollers over the test app's
// storage, waiting for a job to finish, and reading back what landed in the table and
// the bucket. Nothing here replaces storage: the pollers and readers talk to the emulators.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { expect } from 'vitest';
import { createApp, type IntakeApp } from '../../src/app.js';
import { Poller, type PollerOptions } from '../../src/ingest/poller.js';
import { createServices } from '../../src/services.js';
import type { ProjectItem, StoredRecord } from '../../src/domain/model.js';
import type { ObjectInfo, Storage } from '../../src/storage/ports.js';
import { uniqueName } from './endpoints.js';
import type { TestApp } from './test-app.js';

export const TERMINAL_STATUSES = ['succeeded', 'partial', 'failed'] as const;

export interface TestProject {
  id: string;
  key: string;
  project: ProjectItem;
  /** Header carrying the project's full-scope key. */
  auth: { 'X-API-Key': string };
}

/** A fresh project (own table and bucket) and a key with every scope. */
export async function createProjectWithKey(t: TestApp, prefix = 'f'): Promise<TestProject> {
  const id = uniqueName(prefix);
  const created = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: id });
  expect(created.status).toBe(201);
  const key = await request(t.app).post(`/v1/projects/${id}/keys`).set(t.admin).send({ name: 'ingest' });
  expect(key.status).toBe(201);
  const project = await t.storage.control.getProject(id);
  if (!project) throw new Error(`project ${id} was not stored`);
  return { id, key: key.body.key as string, project, auth: { 'X-API-Key': key.body.key as string } };
}

export const FAST_POLLER: Omit<PollerOptions, 'maxDecompressedBytes'> = {
  intervalMs: 100,
  maxIdleIntervalMs: 200,
  concurrency: 2,
  leaseMs: 3000,
  // Not 0: with no settle time a poller may take an API upload the instant it is stored,
  // and a file that fails at once (a gzip bomb) is moved to failed/ before the upload route
  // reads it back, which answers the upload 503. The service's default is 2 s.
  settleMs: 250,
  checkpointIntervalMs: 2000,
  maxAttempts: 3,
};

/** A poller over the test app's storage (or `storage`, e.g. a fault-injecting wrapper of it). */
export function createPoller(
  t: TestApp,
  options: Partial<PollerOptions> = {},
  storage: Pick<Storage, 'objects' | 'control' | 'records'> = t.storage,
): Poller {
  // The project listing goes through the given control store too, so wrappers see every call.
  const projects = storage === t.storage ? t.services.projects : createServices(t.config, { ...t.storage, ...storage }, t.adminToken).projects;
  return new Poller(
    { objects: storage.objects, control: storage.control, records: storage.records, projects, logger: t.logger, metrics: t.metrics },
    { ...FAST_POLLER, maxDecompressedBytes: t.config.limits.maxDecompressedBytes, maxRecordDepth: t.config.limits.maxJsonDepth, maxInflationRatio: t.config.limits.maxInflationRatio, ...options },
  );
}

export interface JobView {
  id: string;
  fileId: string;
  fileName: string;
  objectKey: string;
  status: string;
  format: string | null;
  bytesTotal: number;
  bytesRead: number;
  rowsRead: number;
  recordsWritten: number;
  rowsRejected: number;
  errors: { row: number; code: string; message: string }[];
  errorReportKey: string | null;
  notices: string[];
  failure: { code: string; message: string } | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

/** Polls the jobs API until the job reaches a terminal status; fails past the deadline. */
export async function waitForJob(t: TestApp, p: TestProject, jobId: string, timeoutMs = 20_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const res = await request(t.app).get(`/v1/projects/${p.id}/jobs/${jobId}`).set(p.auth);
    if (res.status === 200) {
      last = res.body;
      if ((TERMINAL_STATUSES as readonly string[]).includes(res.body.status)) return res.body as JobView;
    } else {
      last = { status: res.status, body: res.body };
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} not finished after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await sleep(50);
  }
}

/** Every job of the project through the API, newest first. */
export async function listJobs(t: TestApp, p: TestProject): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let cursor: string | null = null;
  do {
    const res: request.Response = await request(t.app)
      .get(`/v1/projects/${p.id}/jobs`)
      .query(cursor === null ? { limit: 100 } : { limit: 100, cursor })
      .set(p.auth);
    expect(res.status).toBe(200);
    jobs.push(...(res.body.items as JobView[]));
    cursor = res.body.nextCursor as string | null;
  } while (cursor !== null);
  return jobs;
}

export interface ReadRecord {
  id: string;
  data: Record<string, unknown>;
  source: { type: string; fileId: string; jobId: string; fileName: string; row: number };
  ingestedAt: string;
}

/** Every record of the project straight from its table (all pages). */
export async function storedRecords(t: TestApp, p: TestProject): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let afterId: string | undefined;
  do {
    const page = await t.storage.records.listRecords(p.project.tableName, { limit: 1000, afterId });
    out.push(...page.items);
    afterId = page.lastId;
  } while (afterId !== undefined);
  return out;
}

/** Every record through the API (GET /records, all pages), parsed, sorted by source row. */
export async function apiRecords(t: TestApp, p: TestProject): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let cursor: string | null = null;
  do {
    const res: request.Response = await request(t.app)
      .get(`/v1/projects/${p.id}/records`)
      .query(cursor === null ? { limit: 1000 } : { limit: 1000, cursor })
      .set(p.auth);
    expect(res.status).toBe(200);
    out.push(...(res.body.items as ReadRecord[]));
    cursor = res.body.nextCursor as string | null;
  } while (cursor !== null);
  return out.sort((a, b) => a.source.row - b.source.row);
}

/** Records of one job, sorted by row. */
export async function recordsOfJob(t: TestApp, p: TestProject, jobId: string): Promise<ReadRecord[]> {
  return (await apiRecords(t, p)).filter((r) => r.source.jobId === jobId);
}

/** Every object of the project's bucket (all prefixes). */
export async function bucketObjects(t: TestApp, p: TestProject, prefix = ''): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const page of t.storage.objects.list(p.project.bucketName, prefix)) out.push(...page);
  return out;
}

export async function readObject(t: TestApp, p: TestProject, key: string): Promise<Buffer> {
  const stream = await t.storage.objects.getStream(p.project.bucketName, key);
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** PUT a file through the API (supertest, with a Content-Length). */
export async function uploadFile(
  t: TestApp,
  p: TestProject,
  name: string,
  body: Buffer | string,
  contentType = 'application/octet-stream',
  query: Record<string, string> = {},
): Promise<{ fileId: string; jobId: string; bytes: number }> {
  const res = await request(t.app)
    .put(`/v1/projects/${p.id}/files/${encodeURIComponent(name)}`)
    .query(query)
    .set(p.auth)
    .set('Content-Type', contentType)
    // Bytes as they are: superagent would otherwise JSON-encode a Buffer sent as application/json.
    .serialize((raw: unknown) => raw as string)
    .send(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { fileId: string; jobId: string; bytes: number };
}

/** The app listening on an ephemeral port, for clients that need a real socket. */
export async function listen(app: IntakeApp): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * Sends `body` with http.request as a stream. Without a content-length header the body
 * goes chunked (Transfer-Encoding: chunked), as `curl -T -` would send it.
 */
export function streamRequest(
  port: number,
  options: { method: string; path: string; headers: Record<string, string>; body: Readable },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers });
    req.once('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.once('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.once('error', reject);
    });
    // The server may answer (413) and close before the whole body is written: the
    // response is what matters, so a write error after it is ignored.
    req.once('error', (error) => reject(error));
    options.body.once('error', (error) => req.destroy(error));
    options.body.pipe(req);
  });
}

/** `total` bytes produced in chunks of `chunk` bytes by `fill(offset, size)`, never held whole. */
export function generatedStream(total: number, fill: (offset: number, size: number) => Buffer, chunk = 64 * 1024): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk, total - offset);
      const buf = fill(offset, size);
      offset += size;
      this.push(buf);
    },
  });
}

/** Waits until `check` returns true, polling; fails past the deadline. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The job id the poller gives an object it finds in the bucket (looked up through the API). */
export async function jobForObject(t: TestApp, p: TestProject, objectKey: string, timeoutMs = 10_000): Promise<JobView> {
  let found: JobView | undefined;
  await eventually(
    async () => {
      const jobs = await listJobs(t, p);
      found = jobs.find((job) => job.objectKey === objectKey || job.objectKey.endsWith(objectKey.replace(/^incoming\//, '/')));
      return found !== undefined;
    },
    `a job for ${objectKey}`,
    timeoutMs,
  );
  return found!;
}

export type CallCounts = Record<string, number>;

/**
 * Wraps a real storage adapter: counts every method call and lets a test replace a few
 * methods (fault injection, observation). Calls not overridden go to the real adapter.
 */
export function instrument<T extends object>(
  target: T,
  overrides: { [K in keyof T]?: T[K] } = {},
): { proxy: T; calls: CallCounts } {
  const calls: CallCounts = {};
  const proxy = new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      const override = (overrides as Record<string, unknown>)[prop];
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        if (typeof override === 'function') return (override as (...a: unknown[]) => unknown)(...args);
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
  return { proxy, calls };
}

/** The same app as `t.app`, but over `storage` (e.g. an instrumented wrapper of `t.storage`). */
export function appOver(t: TestApp, storage: Storage): IntakeApp {
  const services = createServices(t.config, storage, t.adminToken);
  return createApp({ config: t.config, storage, services, logger: t.logger, metrics: t.metrics, adminToken: t.adminToken });
}

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A multipart/form-data body built by hand, so tests control every part and its order. */
export function multipartBody(parts: MultipartPart[], boundary = `intake-boundary-${Date.now()}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
