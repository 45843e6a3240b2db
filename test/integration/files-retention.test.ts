// Retention of ingested uploads under processed/: a lifecycle rule on each project bucket in
// aws mode, a bounded periodic sweep in embedded mode; the files list shows an expired file
// without a download, and its download answers 410 file_expired.
import { S3Client } from '@aws-sdk/client-s3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { uploadTimeOf } from '../../src/ingest/file-catalog.js';
import { newJob } from '../../src/ingest/jobs.js';
import type { Poller } from '../../src/ingest/poller.js';
import { ProcessedRetention } from '../../src/ingest/processed-retention.js';
import { isLifecycleUnsupported, projectBucketLifecycle } from '../../src/storage/s3/bucket-lifecycle.js';
import { S3ObjectStore } from '../../src/storage/s3/s3-object-store.js';
import { storageNames } from '../../src/storage/names.js';
import { S3_EMULATOR_CLIENT_OPTIONS, testAwsEnv, uniqueName } from '../support/endpoints.js';
import { apiRecords, bucketObjects, createPoller, createProjectWithKey, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const DAY_MS = 86_400_000;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A well-formed upload id (ULID) made at `ms`. */
function ulidAt(ms: number, tail = 'Q'): string {
  let time = '';
  for (let n = ms, i = 0; i < 10; i++, n = Math.floor(n / 32)) time = CROCKFORD[n % 32] + time;
  return time + tail.repeat(16);
}

describe('processed/ retention: settings and the lifecycle request', () => {
  it('defaults to 30 days; 0 keeps uploads for good; a negative or fractional value is refused at start', () => {
    expect(loadConfig({}).processedRetentionDays).toBe(30);
    expect(loadConfig({ INTAKE_PROCESSED_RETENTION_DAYS: '0' }).processedRetentionDays).toBe(0);
    expect(loadConfig({ INTAKE_PROCESSED_RETENTION_DAYS: '7' }).processedRetentionDays).toBe(7);
    expect(() => loadConfig({ INTAKE_PROCESSED_RETENTION_DAYS: '-1' })).toThrow(/INTAKE_PROCESSED_RETENTION_DAYS/);
    expect(() => loadConfig({ INTAKE_PROCESSED_RETENTION_DAYS: '1.5' })).toThrow(/INTAKE_PROCESSED_RETENTION_DAYS/);
  });

  it('builds a rule expiring processed/ after the retention, beside the abort of incomplete uploads', () => {
    expect(projectBucketLifecycle('b-1', 30)).toEqual({
      Bucket: 'b-1',
      LifecycleConfiguration: {
        Rules: [
          { ID: 'intake-abort-incomplete-uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          { ID: 'intake-processed-retention', Status: 'Enabled', Filter: { Prefix: 'processed/' }, Expiration: { Days: 30 } },
        ],
      },
    });
    // 0: the configuration replaces any earlier one, so a shortened-then-disabled retention stops expiring.
    expect(projectBucketLifecycle('b-1', 0).LifecycleConfiguration.Rules.map((r) => r.ID)).toEqual(['intake-abort-incomplete-uploads']);
  });

  it('tells a store without lifecycle support apart from a failure', () => {
    expect(isLifecycleUnsupported(Object.assign(new Error('x'), { name: 'NotImplemented' }))).toBe(true);
    expect(isLifecycleUnsupported(Object.assign(new Error('x'), { name: 'Whatever', $metadata: { httpStatusCode: 501 } }))).toBe(true);
    expect(isLifecycleUnsupported(Object.assign(new Error('x'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }))).toBe(false);
    expect(isLifecycleUnsupported(Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }))).toBe(false);
  });

  it('reads the time of an upload id; other ids have none', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    expect(uploadTimeOf(ulidAt(at))).toBe(at);
    expect(uploadTimeOf('not-a-ulid')).toBeUndefined();
    expect(uploadTimeOf(ulidAt(at).slice(1))).toBeUndefined();
  });
});

describe('processed/ retention on the S3 emulator (aws)', () => {
  it('ensuring a bucket sets its rules, or logs plainly that the store has none and goes on', async () => {
    const aws = testAwsEnv();
    const client = new S3Client({ region: aws.region, endpoint: aws.s3Endpoint, credentials: aws.credentials, ...S3_EMULATOR_CLIENT_OPTIONS });
    const warnings: Record<string, unknown>[] = [];
    const store = new S3ObjectStore(client, aws.region, uniqueName('probe'), {
      processedRetentionDays: 30,
      onWarning: (message, fields) => warnings.push({ message, ...fields }),
    });
    const bucket = uniqueName('ret');
    try {
      await store.ensureBucket(bucket);
      await store.ensureBucket(bucket);
      // The emulator takes the configuration (and keeps no rules, so expiry itself cannot be
      // seen here): no warning.
      expect(warnings).toEqual([]);
      await store.putStream(bucket, 'processed/x/a.csv', Readable.from([Buffer.from('a\n')]));
      expect(await store.head(bucket, 'processed/x/a.csv')).not.toBeNull();
    } finally {
      while ((await store.emptyBucket(bucket)) > 0);
      await store.deleteBucket(bucket);
      client.destroy();
    }
  });
});

describe('processed/ retention on an S3 endpoint without lifecycle support', () => {
  /** An S3 endpoint that answers every lifecycle call with `status` and `code`, and buckets as existing. */
  async function endpointAnswering(status: number, code: string) {
    const server = http.createServer((req, res) => {
      req.resume();
      if (req.url?.includes('?lifecycle')) {
        res.writeHead(status, { 'Content-Type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>not here</Message></Error>`);
      } else {
        res.writeHead(200).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    return { client, close: () => { client.destroy(); return new Promise<void>((resolve) => server.close(() => resolve())); } };
  }

  it('NotImplemented: the bucket is ensured and the log says plainly that nothing expires there', async () => {
    const s3 = await endpointAnswering(501, 'NotImplemented');
    const warnings: Record<string, unknown>[] = [];
    try {
      const store = new S3ObjectStore(s3.client, 'us-east-1', 'probe', { processedRetentionDays: 30, onWarning: (message, fields) => warnings.push({ message, ...fields }) });
      await store.ensureBucket('no-lifecycle-here');
      expect(warnings).toEqual([
        expect.objectContaining({ event: 'bucket_lifecycle_unsupported', bucket: 'no-lifecycle-here', error: 'NotImplemented', message: expect.stringContaining('processed/ objects are kept') }),
      ]);
    } finally {
      await s3.close();
    }
  });

  it('any other refusal (AccessDenied) fails the ensure, so a project is not created without its rule', async () => {
    const s3 = await endpointAnswering(403, 'AccessDenied');
    const warnings: unknown[] = [];
    try {
      const store = new S3ObjectStore(s3.client, 'us-east-1', 'probe', { processedRetentionDays: 30, onWarning: (m) => warnings.push(m) });
      await expect(store.ensureBucket('denied')).rejects.toBeTruthy();
      expect(warnings).toEqual([]);
    } finally {
      await s3.close();
    }
  });
});

describe('processed/ retention: the embedded sweep', () => {
  let t: TestApp;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded' });
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  const sweeper = (days: number, maxDeletes?: number) =>
    new ProcessedRetention(t.storage.objects, () => t.services.projects.all(), { days, maxDeletes });

  it('deletes ingested uploads older than the retention, in bounded batches; keeps failed ones and every record', async () => {
    const p = await createProjectWithKey(t);
    const good: { fileId: string; jobId: string }[] = [];
    for (const name of ['a.csv', 'b.csv', 'c.csv']) good.push(await uploadFile(t, p, name, `id,name\n${name},x\n`));
    const bad = await uploadFile(t, p, 'bad.ndjson', '{"id":\n');
    for (const u of good) expect((await waitForJob(t, p, u.jobId)).status).toBe('succeeded');
    expect((await waitForJob(t, p, bad.jobId)).status).toBe('failed');
    expect(await bucketObjects(t, p, 'processed/')).toHaveLength(3);

    // Fresh uploads stay; 0 days keeps them even far in the future.
    expect(await sweeper(30).sweepOnce()).toBe(0);
    expect(await sweeper(0).sweepOnce(Date.now() + 3650 * DAY_MS)).toBe(0);
    expect(await bucketObjects(t, p, 'processed/')).toHaveLength(3);

    // 31 days on: two per sweep at most, then the last one, then nothing.
    const later = Date.now() + 31 * DAY_MS;
    const limited = sweeper(30, 2);
    const swept = [await limited.sweepOnce(later), await limited.sweepOnce(later), await limited.sweepOnce(later)];
    expect(swept).toEqual([2, 1, 0]);
    expect(await bucketObjects(t, p, 'processed/')).toEqual([]);
    expect((await bucketObjects(t, p, 'failed/')).map((o) => o.key)).toEqual([`failed/${bad.fileId}/bad.ndjson`]);
    // Only the raw upload goes: the records it made stay.
    expect(await apiRecords(t, p)).toHaveLength(3);

    // The list marks them expired without a download; the download says why it is gone.
    const list = await request(t.app).get(`/v1/projects/${p.id}/files`).set(p.auth);
    expect(list.status).toBe(200);
    const a = (list.body.items as Record<string, unknown>[]).find((f) => f.fileId === good[0]!.fileId);
    // The jobs finished just now: by the clock of the list, not yet expired (the sweep ran 31 days ahead).
    expect(a).toMatchObject({ expired: false, location: 'processed' });
    const gone = await request(t.app).get(`/v1/projects/${p.id}/files/${good[0]!.fileId}`).set(p.auth);
    // The id is fresh, so the missing object is not put down to retention: plainly not found.
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('file_not_found');
  });
});

/**
 * A project made `days` ago (stored directly: the API dates a project now), used with the
 * admin token. An upload id can only be put down to retention if it dates from the project's life.
 */
async function projectCreatedAgo(t: TestApp, days: number) {
  const id = uniqueName('old');
  const names = storageNames(t.config.namePrefix);
  const project = {
    id,
    name: id,
    createdAt: new Date(Date.now() - days * DAY_MS).toISOString(),
    tableName: names.recordsTable(id),
    bucketName: names.bucket(id),
  };
  await t.storage.records.ensureTable(project.tableName);
  await t.storage.objects.ensureBucket(project.bucketName);
  await t.storage.control.createProject(project);
  return { id, project, auth: t.admin as unknown as TestProject['auth'] };
}

describe.each(['embedded', 'aws'] as const)('expired files in the list and the download (%s)', (mode) => {
  let t: TestApp;
  let p: Pick<TestProject, 'id' | 'project' | 'auth'>;
  beforeAll(async () => {
    t = await createTestApp({ mode, env: { INTAKE_PROCESSED_RETENTION_DAYS: '30' } });
    p = await projectCreatedAgo(t, 100);
  });
  afterAll(async () => t.close());

  /** A file job as one that finished `daysAgo` days ago leaves it (its object already gone if expired). */
  async function finishedFile(daysAgo: number, name: string) {
    const at = new Date(Date.now() - daysAgo * DAY_MS);
    const fileId = ulidAt(at.getTime() - 60_000);
    const job = newJob(p.project, { key: `incoming/${fileId}/${name}`, etag: `"${fileId}"`, size: 10, fileName: name, sha256: 'a'.repeat(64) }, at);
    await t.storage.control.createJob({
      ...job,
      status: 'succeeded',
      recordsWritten: 1,
      rowsRead: 1,
      objectKey: `processed/${fileId}/${name}`,
      startedAt: at.toISOString(),
      finishedAt: at.toISOString(),
    });
    return { fileId, jobId: job.id };
  }

  it('shows a file past the retention as expired with no download, and answers its download 410 file_expired', async () => {
    const old = await finishedFile(45, 'old.csv');
    const recent = await finishedFile(2, 'recent.csv');
    await t.storage.objects.putStream(p.project.bucketName, `processed/${recent.fileId}/recent.csv`, Readable.from([Buffer.from('id\n1\n')]));

    const list = await request(t.app).get(`/v1/projects/${p.id}/files`).set(p.auth);
    expect(list.status).toBe(200);
    const byId = new Map((list.body.items as Record<string, unknown>[]).map((f) => [f.fileId, f]));
    expect(byId.get(old.fileId)).toMatchObject({ expired: true, download: null, status: 'succeeded', jobId: old.jobId });
    expect(byId.get(recent.fileId)).toMatchObject({ expired: false, download: `/v1/projects/${p.id}/files/${recent.fileId}` });

    const gone = await request(t.app).get(`/v1/projects/${p.id}/files/${old.fileId}`).set(p.auth);
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe('file_expired');
    expect(gone.body.error.message).toContain('30 days');
    const kept = await request(t.app).get(`/v1/projects/${p.id}/files/${recent.fileId}`).set(p.auth);
    expect(kept.status).toBe(200);
    expect(kept.text ?? String(kept.body)).toContain('id');
    // A fresh id that was never uploaded is not found, nor one older than the project;
    // the job of the expired file is still there.
    for (const never of [ulidAt(Date.now()), ulidAt(Date.now() - 200 * DAY_MS)]) {
      const unknown = await request(t.app).get(`/v1/projects/${p.id}/files/${never}`).set(p.auth);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('file_not_found');
    }
    expect((await request(t.app).get(`/v1/projects/${p.id}/jobs/${old.jobId}`).set(p.auth)).body.status).toBe('succeeded');
  });

  it('with retention 0 nothing is ever expired', async () => {
    const keep = await createTestApp({ mode, env: { INTAKE_PROCESSED_RETENTION_DAYS: '0' } });
    try {
      const q = await projectCreatedAgo(keep, 5000);
      const at = new Date(Date.now() - 4000 * DAY_MS);
      const fileId = ulidAt(at.getTime());
      const job = newJob(q.project, { key: `incoming/${fileId}/x.csv`, etag: '"x"', size: 1, fileName: 'x.csv' }, at);
      await keep.storage.control.createJob({ ...job, status: 'succeeded', objectKey: `processed/${fileId}/x.csv`, finishedAt: at.toISOString() });
      const list = await request(keep.app).get(`/v1/projects/${q.id}/files`).set(q.auth);
      expect(list.body.items[0]).toMatchObject({ fileId, expired: false });
      const missing = await request(keep.app).get(`/v1/projects/${q.id}/files/${fileId}`).set(q.auth);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('file_not_found');
    } finally {
      await keep.close();
    }
  });
});
