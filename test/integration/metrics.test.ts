// Scrapes /metrics after real traffic (API, uploads, jobs, storage retries) and checks
// that every metric the operations dashboards rely on actually moves.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller } from '../../src/ingest/poller.js';
import { createDynamoClient } from '../../src/storage/dynamodb/dynamo-client.js';
import { DynamoRecordStore } from '../../src/storage/dynamodb/dynamo-record-store.js';
import { reportSdkRetries } from '../../src/storage/sdk-http.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

type Labels = Record<string, string>;

/** The samples of one metric in Prometheus text format whose labels include `labels`. */
function samples(text: string, name: string, labels: Labels = {}): number[] {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const own = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) found.push(Number(match[3]));
  }
  return found;
}

const sum = (text: string, name: string, labels: Labels = {}) => samples(text, name, labels).reduce((a, b) => a + b, 0);

/** A stand-in DynamoDB endpoint whose answers the test scripts: JSON protocol, one reply per request. */
async function fakeDynamo(answer: (target: string, n: number) => { status: number; body: unknown }) {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume().on('end', () => {
      const { status, body } = answer(String(req.headers['x-amz-target']), ++n);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => n,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// The tests share one app and run in order: the jobs test also ingests the file the first test uploaded.
describe('/metrics', () => {
  let t: TestApp;
  let key: string;
  const scrape = async () => {
    const response = await request(t.app).get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    return response.text;
  };

  beforeAll(async () => {
    t = await createTestApp();
    expect((await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'metrics', name: 'Metrics' })).status).toBe(201);
    const created = await request(t.app).post('/v1/projects/metrics/keys').set(t.admin).send({ name: 'k' });
    expect(created.status).toBe(201);
    key = created.body.key as string;
  });
  afterAll(async () => t.close());

  it('counts requests by route and status, latency, auth failures, API records and uploaded bytes', async () => {
    const before = await scrape();
    expect((await request(t.app).get('/v1/projects/metrics/records')).status).toBe(401);
    expect((await request(t.app).get('/v1/projects').set('authorization', 'Bearer wrong-token')).status).toBe(401);
    expect((await request(t.app).get('/no/such/route')).status).toBe(404);
    const push = await request(t.app)
      .post('/v1/projects/metrics/records')
      .set('x-api-key', key)
      .set('content-type', 'application/x-ndjson')
      .send('{"a":1}\n{"a":2}\nnot json\n');
    expect(push.status).toBe(200);
    expect(push.body.accepted).toBe(2);
    const csv = 'id,name\n1,a\n2,b\n3,c\n';
    const upload = await request(t.app).put('/v1/projects/metrics/files/m.csv').set('x-api-key', key).set('content-type', 'text/csv').send(csv);
    expect(upload.status).toBe(202);

    const after = await scrape();
    const moved = (name: string, labels: Labels = {}) => sum(after, name, labels) - sum(before, name, labels);
    const records = { method: 'POST', route: '/v1/projects/:projectId/records' };
    expect(moved('intake_http_requests_total', { ...records, status: '200' })).toBe(1);
    expect(moved('intake_http_requests_total', { method: 'GET', route: '/v1/projects/:projectId/records', status: '401' })).toBe(1);
    expect(moved('intake_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(moved('intake_http_requests_total', { method: 'PUT', route: '/v1/projects/:projectId/files/:fileName', status: '202' })).toBe(1);
    expect(moved('intake_http_request_duration_seconds_count', records)).toBe(1);
    expect(moved('intake_http_request_duration_seconds_bucket', { ...records, le: '+Inf' })).toBe(1);
    expect(moved('intake_http_request_duration_seconds_sum', records)).toBeGreaterThan(0);
    expect(moved('intake_auth_failures_total', { reason: 'missing_credential' })).toBe(1);
    expect(moved('intake_auth_failures_total', { reason: 'wrong_admin_token' })).toBe(1);
    expect(moved('intake_records_accepted_total', { source: 'api' })).toBe(2);
    expect(moved('intake_records_rejected_total', { source: 'api' })).toBe(1);
    expect(moved('intake_upload_bytes_total')).toBe(Buffer.byteLength(csv));
  });

  it('counts requests refused by a key\'s rate limit', async () => {
    const limited = await request(t.app)
      .post('/v1/projects/metrics/keys')
      .set(t.admin)
      .send({ name: 'limited', rateLimit: { requests: 1, windowSeconds: 60 } });
    expect(limited.status).toBe(201);
    const before = await scrape();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await request(t.app).get('/v1/projects/metrics/records').set('x-api-key', limited.body.key as string)).status);
    }
    expect(statuses).toEqual([200, 429, 429]);
    const after = await scrape();
    expect(sum(after, 'intake_rate_limited_total', { kind: 'key' }) - sum(before, 'intake_rate_limited_total', { kind: 'key' })).toBe(2);
    expect(
      sum(after, 'intake_http_requests_total', { route: '/v1/projects/:projectId/records', status: '429' }) -
        sum(before, 'intake_http_requests_total', { route: '/v1/projects/:projectId/records', status: '429' }),
    ).toBe(2);
  });

  it('counts jobs by outcome, job duration, file records and poller lag', async () => {
    const ok = await request(t.app).put('/v1/projects/metrics/files/ok.csv').set('x-api-key', key).set('content-type', 'text/csv').send('id,name\n1,a\n2,b\n');
    const partial = await request(t.app)
      .put('/v1/projects/metrics/files/half.ndjson')
      .set('x-api-key', key)
      .set('content-type', 'application/x-ndjson')
      .send('{"a":1}\nnot json\n');
    expect([ok.status, partial.status]).toEqual([202, 202]);
    const before = await scrape();
    // The files wait unclaimed for a while. With one worker, the first poll claims one file
    // and the others keep waiting: the lag is their age (a claimed file does not count).
    await sleep(1200);
    const poller = new Poller(
      { ...t.storage, projects: t.services.projects, logger: t.logger, metrics: t.metrics },
      { intervalMs: 100, maxIdleIntervalMs: 200, concurrency: 1, leaseMs: 10_000, maxDecompressedBytes: 1 << 30, settleMs: 0, checkpointIntervalMs: 2000, maxAttempts: 3 },
    );
    try {
      await poller.pollOnce();
      const lagged = await scrape();
      expect(samples(lagged, 'intake_poller_lag_seconds')[0]).toBeGreaterThanOrEqual(1);
      const deadline = Date.now() + 20_000;
      // The upload test left one more file (m.csv, three rows) for the poller: three jobs in all.
      while (sum(await scrape(), 'intake_jobs_total') - sum(before, 'intake_jobs_total') < 3) {
        if (Date.now() > deadline) throw new Error('jobs did not finish');
        await sleep(100);
        await poller.pollOnce();
      }
      // Every file is processed and moved out of incoming/: nothing waits any more.
      await poller.pollOnce();
    } finally {
      await poller.stop();
    }
    const after = await scrape();
    expect(samples(after, 'intake_poller_lag_seconds')[0]).toBe(0);
    const moved = (name: string, labels: Labels = {}) => sum(after, name, labels) - sum(before, name, labels);
    expect(moved('intake_jobs_total', { outcome: 'succeeded' })).toBe(2);
    expect(moved('intake_jobs_total', { outcome: 'partial' })).toBe(1);
    expect(moved('intake_job_duration_seconds_count')).toBe(3);
    expect(moved('intake_job_duration_seconds_sum')).toBeGreaterThan(0);
    expect(moved('intake_records_accepted_total', { source: 'file' })).toBe(3 + 2 + 1);
    expect(moved('intake_records_rejected_total', { source: 'file' })).toBe(1);
  });

  it('counts storage retries: the SDK’s own retries and the record store’s unprocessed items', async () => {
    const before = await scrape();
    const onRetry = (reason: string) => t.metrics.storageRetries.inc({ reason });

    // Two 500s, then an answer: the SDK retries twice on its own and succeeds.
    const flaky = await fakeDynamo((_target, n) =>
      n <= 2
        ? { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'boom' } }
        : { status: 200, body: { TableNames: [] } },
    );
    // BatchWriteItem leaves one item unprocessed once; the store writes it again.
    const throttled = await fakeDynamo((target, n) =>
      target.endsWith('BatchWriteItem') && n === 1
        ? { status: 200, body: { UnprocessedItems: { t1: [{ PutRequest: { Item: { id: { S: 'r1' } } } }] } } }
        : { status: 200, body: { UnprocessedItems: {} } },
    );
    const credentials = { accessKeyId: 'fake', secretAccessKey: 'fake' };
    const flakyClient = createDynamoClient({ region: 'us-east-1', endpoint: flaky.endpoint, credentials });
    const throttledClient = createDynamoClient({ region: 'us-east-1', endpoint: throttled.endpoint, credentials });
    try {
      reportSdkRetries(flakyClient, 'dynamodb', onRetry);
      await flakyClient.send(new ListTablesCommand({}));
      expect(flaky.requests()).toBe(3);

      const store = new DynamoRecordStore(throttledClient, { writeConcurrency: 1, onRetry });
      await store.putRecords('t1', [{ id: 'r1', data: '{}', source: '{}', ingestedAt: new Date().toISOString() }]);
      expect(throttled.requests()).toBe(2);
    } finally {
      flakyClient.destroy();
      throttledClient.destroy();
      await Promise.all([flaky.close(), throttled.close()]);
    }
    const after = await scrape();
    const moved = (labels: Labels) => sum(after, 'intake_storage_retries_total', labels) - sum(before, 'intake_storage_retries_total', labels);
    expect(moved({ reason: 'sdk_dynamodb' })).toBe(2);
    expect(moved({ reason: 'unprocessed_items' })).toBe(1);
  });

  it('exposes the default process metrics and every metric the dashboards use', async () => {
    const text = await scrape();
    for (const name of [
      'intake_process_cpu_user_seconds_total',
      'intake_process_resident_memory_bytes',
      'intake_nodejs_eventloop_lag_seconds',
      'intake_nodejs_heap_size_used_bytes',
    ]) {
      expect(samples(text, name).length, name).toBeGreaterThan(0);
    }
    for (const name of [
      'intake_http_requests_total',
      'intake_http_request_duration_seconds',
      'intake_records_accepted_total',
      'intake_records_rejected_total',
      'intake_upload_bytes_total',
      'intake_jobs_total',
      'intake_job_duration_seconds',
      'intake_poller_lag_seconds',
      'intake_storage_retries_total',
      'intake_auth_failures_total',
      'intake_rate_limited_total',
      'intake_alerts_total',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
  });
});
