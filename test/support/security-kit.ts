// Helpers for the edge-security tests: projects and keys made through the admin API, and
// the checks every hostile-input test ends with (the service still answers, and nothing
// was stored that should not have been). Everything talks to the emulators.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { expect } from 'vitest';
import type { IntakeApp } from '../../src/app.js';
import type { ProjectItem } from '../../src/domain/model.js';
import type { ObjectInfo } from '../../src/storage/ports.js';
import { uniqueName } from './endpoints.js';
import type { TestApp } from './test-app.js';

export interface SecProject {
  id: string;
  project: ProjectItem;
}

export interface SecKey {
  id: string;
  key: string;
  header: { 'X-API-Key': string };
}

/** `app` may be another app over the same storage, or the URL of a server process. */
export async function createProject(t: TestApp, body: Record<string, unknown> = {}, app: IntakeApp | string = t.app): Promise<SecProject> {
  const id = uniqueName('sec');
  const res = await request(app).post('/v1/projects').set(t.admin).send({ id, name: `Project ${id}`, ...body });
  expect(res.status, res.text).toBe(201);
  const project = await t.storage.control.getProject(id);
  if (!project) throw new Error(`project ${id} was not stored`);
  return { id, project };
}

export async function createKey(
  t: TestApp,
  projectId: string,
  body: Record<string, unknown> = {},
  app: IntakeApp | string = t.app,
): Promise<SecKey> {
  const res = await request(app).post(`/v1/projects/${projectId}/keys`).set(t.admin).send({ name: 'security test', ...body });
  expect(res.status, res.text).toBe(201);
  const key = res.body.key as string;
  return { id: res.body.id as string, key, header: { 'X-API-Key': key } };
}

/** A key of the right shape whose id and secret exist nowhere. */
export function randomKey(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const id = Array.from(randomBytes(16), (b) => alphabet[b & 31]).join('');
  return `ik_${id}_${randomBytes(32).toString('base64url')}`;
}

/** The service still answers, on the same app. */
export async function expectHealthy(app: IntakeApp): Promise<void> {
  const res = await request(app).get('/healthz');
  expect(res.status).toBe(200);
}

export async function storedRecordCount(t: TestApp, p: SecProject): Promise<number> {
  let count = 0;
  let afterId: string | undefined;
  do {
    const page = await t.storage.records.listRecords(p.project.tableName, { limit: 1000, afterId });
    count += page.items.length;
    afterId = page.lastId;
  } while (afterId !== undefined);
  return count;
}

export async function storedObjects(t: TestApp, p: SecProject, prefix = ''): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const page of t.storage.objects.list(p.project.bucketName, prefix)) out.push(...page);
  return out;
}

export async function storedJobCount(t: TestApp, p: SecProject): Promise<number> {
  return (await t.storage.control.listJobs(p.id, { limit: 1000 })).items.length;
}

/** Nothing of the project's was stored: no record, no object, no job. */
export async function expectNothingStored(t: TestApp, p: SecProject): Promise<void> {
  expect(await storedRecordCount(t, p)).toBe(0);
  expect(await storedObjects(t, p)).toEqual([]);
  expect(await storedJobCount(t, p)).toBe(0);
}

/** The error model's body: `{error: {code, message, requestId}}`. */
export function expectError(res: request.Response, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body?.error?.code, res.text).toBe(code);
}

export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Value of a Prometheus counter with the given labels (0 when absent). */
export async function counterValue(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await t.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Whole JSON log lines captured from a logStream. */
export class LogCapture {
  text = '';
  readonly stream = new Writable({
    write: (chunk: Buffer | string, _encoding, callback) => {
      this.text += chunk.toString();
      callback();
    },
  });

  entries(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
