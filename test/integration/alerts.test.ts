// Webhook alerts against a local HTTP receiver: message shape, retry with backoff,
// dedup, the flood cap, never blocking, and the wiring in the real server process.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { newJob } from '../../src/ingest/jobs.js';
import { Alerter, type AlerterOptions, type AlertMessage } from '../../src/observability/alerts.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { watchStorageFailures } from '../../src/observability/storage-watch.js';
import type { JobItem } from '../../src/domain/model.js';
import type { Storage } from '../../src/storage/ports.js';
import { testAwsEnv, uniqueName } from '../support/endpoints.js';
import { findFreePort } from '../support/emulators.js';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: AlertMessage;
}

type Answer = { status: number; headers?: Record<string, string> } | 'hang';

interface Receiver {
  url: string;
  received: Received[];
  /** Requests that arrived, answered or not (a hung one counts here only). */
  attempts: number;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1:0; `answer(n)` decides the reply to the n-th POST (1-based). */
async function startReceiver(answer: (n: number) => Answer = () => ({ status: 200 })): Promise<Receiver> {
  const state: Receiver = { url: '', received: [], attempts: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const n = ++state.attempts;
      const reply = answer(n);
      if (reply === 'hang') return;
      if (reply.status < 300) state.received.push({ at: Date.now(), headers: req.headers, body: JSON.parse(text) as AlertMessage });
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}/services/T0000/B0000/hook-secret-part`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

const silentLogger = createLogger({ level: 'silent' });
const receivers: Receiver[] = [];
const alerters: Alerter[] = [];
afterEach(async () => {
  await Promise.all(alerters.splice(0).map((a) => a.close(0)));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function setUp(answer?: (n: number) => Answer, options: Partial<AlerterOptions> = {}) {
  const receiver = await startReceiver(answer);
  receivers.push(receiver);
  const metrics = createMetrics();
  const alerter = new Alerter({ webhookUrl: receiver.url, logger: silentLogger, metrics, backoffMs: 20, source: 'test-host', ...options });
  alerters.push(alerter);
  return { receiver, alerter, metrics };
}

async function alertCount(metrics: Metrics, kind: string, outcome: string): Promise<number> {
  const metric = await metrics.alerts.get();
  return metric.values.find((v) => v.labels.kind === kind && v.labels.outcome === outcome)?.value ?? 0;
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function finishedJob(status: JobItem['status'], overrides: Partial<JobItem> = {}): JobItem {
  const project = { id: 'alerts', name: 'Alerts', createdAt: '', tableName: 't-alerts', bucketName: 'b-alerts' };
  const job = newJob(project, { key: `incoming/${uniqueName('k')}/file.csv`, etag: uniqueName('e'), size: 10, fileName: 'orders.csv' });
  return { ...job, status, rowsRead: 10, recordsWritten: status === 'failed' ? 0 : 7, rowsRejected: status === 'failed' ? 10 : 3, ...overrides };
}

describe('Alerter', () => {
  it('posts one Slack-compatible message per failed job, escaping what the client named', async () => {
    const { receiver, alerter, metrics } = await setUp();
    const job = finishedJob('failed', {
      fileName: '<!channel> orders & co.csv',
      failure: { code: 'all_rows_rejected', message: 'No row of the file was valid.' },
      errors: [{ row: 2, code: 'invalid_json', message: 'bad' }],
      errorReportKey: 'errors/job.ndjson',
    });
    alerter.jobFinished(job);
    alerter.jobFinished(job);
    alerter.jobFinished(finishedJob('succeeded'));
    await alerter.close(2000);

    expect(receiver.received).toHaveLength(1);
    const { headers, body } = receiver.received[0]!;
    expect(headers['content-type']).toBe('application/json');
    expect(typeof body.text).toBe('string');
    expect(body.text).toContain(`Intake job failed in project alerts`);
    expect(body.text).toContain(job.id);
    expect(body.text).toContain('&lt;!channel&gt; orders &amp; co.csv');
    expect(body.text).not.toContain('<!channel>');
    expect(body.blocks?.[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    const fields = JSON.stringify(body.blocks);
    expect(fields).toContain('all_rows_rejected');
    expect(fields).toContain('row 2: invalid_json');
    expect(fields).toContain('errors/job.ndjson');
    expect(fields).toContain('test-host');
    expect(await alertCount(metrics, 'job', 'sent')).toBe(1);
    expect(await alertCount(metrics, 'job', 'deduplicated')).toBe(1);
  });

  it('alerts on a partial job too', async () => {
    const { receiver, alerter } = await setUp();
    alerter.jobFinished(finishedJob('partial'));
    await alerter.close(2000);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.body.text).toMatch(/job ended partial .*rows read 10, stored 7, rejected 3/);
  });

  it('retries with backoff: a receiver that fails twice then succeeds gets the alert on the third attempt', async () => {
    const seen: number[] = [];
    const { receiver, alerter, metrics } = await setUp(
      (n) => {
        seen.push(Date.now());
        return n <= 2 ? { status: n === 1 ? 500 : 503 } : { status: 200 };
      },
      { backoffMs: 100 },
    );
    alerter.jobFinished(finishedJob('failed'));
    await until(() => receiver.received.length === 1);
    expect(receiver.attempts).toBe(3);
    // 100 ms then 200 ms, each with 50-100 % jitter.
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(45);
    expect(seen[2]! - seen[1]!).toBeGreaterThanOrEqual(95);
    // The receiver has the message before the alerter has its answer; close() waits for that.
    await alerter.close(1000);
    expect(await alertCount(metrics, 'job', 'sent')).toBe(1);
    expect(await alertCount(metrics, 'job', 'failed')).toBe(0);
  });

  it('honours Retry-After on 429', async () => {
    const seen: number[] = [];
    const { receiver, alerter } = await setUp(
      (n) => {
        seen.push(Date.now());
        return n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
      },
      { backoffMs: 1 },
    );
    alerter.jobFinished(finishedJob('failed'));
    await until(() => receiver.received.length === 1);
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(950);
  });

  it('gives up after maxAttempts on 5xx, and at once on a 4xx', async () => {
    const always500 = await setUp(() => ({ status: 500 }), { maxAttempts: 3, backoffMs: 5 });
    always500.alerter.jobFinished(finishedJob('failed'));
    await always500.alerter.close(3000);
    expect(always500.receiver.attempts).toBe(3);
    expect(await alertCount(always500.metrics, 'job', 'failed')).toBe(1);

    const gone = await setUp(() => ({ status: 404 }), { maxAttempts: 5, backoffMs: 5 });
    gone.alerter.jobFinished(finishedJob('failed'));
    await gone.alerter.close(3000);
    expect(gone.receiver.attempts).toBe(1);
    expect(await alertCount(gone.metrics, 'job', 'failed')).toBe(1);
  });

  it('never blocks the caller: a hung receiver times out, the queue is bounded, close() is bounded', async () => {
    const { receiver, alerter, metrics } = await setUp(() => 'hang', { timeoutMs: 1000, maxAttempts: 2, maxQueue: 3, jobAlertsPerWindow: 100 });
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) alerter.jobFinished(finishedJob('failed'));
    const callMs = Number(process.hrtime.bigint() - started) / 1e6;
    // Far below one POST timeout: nothing waited for the receiver.
    expect(callMs).toBeLessThan(250);
    // One in flight, three queued, the other six dropped.
    expect(await alertCount(metrics, 'job', 'dropped')).toBe(6);
    // The first POST is abandoned at its timeout and retried once.
    await until(() => receiver.attempts === 2, 3000);
    expect(await alertCount(metrics, 'job', 'failed')).toBe(0);
    const closing = Date.now();
    await alerter.close(100);
    expect(Date.now() - closing).toBeLessThan(1000);
    const outcomes = (await metrics.alerts.get()).values.reduce((sum, v) => sum + v.value, 0);
    // Every alert is accounted for: failed or dropped, none sent.
    expect(outcomes).toBe(10);
    expect(await alertCount(metrics, 'job', 'sent')).toBe(0);
  });

  it('caps job alerts per window and sends one summary for the rest', async () => {
    const { receiver, alerter, metrics } = await setUp(undefined, { jobAlertsPerWindow: 2, jobWindowMs: 400 });
    for (let i = 0; i < 10; i++) alerter.jobFinished(finishedJob('failed', { projectId: i < 6 ? 'alpha' : 'beta' }));
    await until(() => receiver.received.length === 3, 3000);
    expect(receiver.received.filter((r) => r.body.text.startsWith('Intake job failed'))).toHaveLength(2);
    const summary = receiver.received[2]!.body.text;
    expect(summary).toContain('8 more jobs ended failed or partial');
    expect(summary).toContain('alpha: 4');
    expect(summary).toContain('beta: 4');
    await alerter.close(1000);
    expect(await alertCount(metrics, 'job', 'suppressed')).toBe(8);
    expect(await alertCount(metrics, 'summary', 'sent')).toBe(1);
  });

  it('alerts on storage errors that persist: once past the threshold, then once per class per repeat window', async () => {
    const { receiver, alerter } = await setUp(undefined, { storageErrorThreshold: 3, storageWindowMs: 5000, storageRepeatMs: 500 });
    const failure = { errorClass: 'storage_unavailable', operation: 'records.putRecords', message: 'connect ECONNREFUSED' };
    alerter.storageFailed(failure);
    alerter.storageFailed(failure);
    await sleep(100);
    expect(receiver.attempts).toBe(0);
    for (let i = 0; i < 20; i++) alerter.storageFailed(failure);
    for (let i = 0; i < 3; i++) alerter.storageFailed({ ...failure, errorClass: 'internal_error:AccessDeniedException' });
    await until(() => receiver.received.length === 2);
    await sleep(100);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]!.body.text).toContain('Intake storage errors persist: 3 storage errors of class storage_unavailable');
    expect(receiver.received[0]!.body.text).toContain('records.putRecords');
    expect(receiver.received[1]!.body.text).toContain('internal_error:AccessDeniedException');

    await sleep(500);
    alerter.storageFailed(failure);
    await until(() => receiver.received.length === 3);
  });

  it('does nothing without a webhook URL', async () => {
    const metrics = createMetrics();
    const alerter = new Alerter({ webhookUrl: undefined, logger: silentLogger, metrics });
    expect(alerter.enabled).toBe(false);
    alerter.jobFinished(finishedJob('failed'));
    alerter.storageFailed({ errorClass: 'x', operation: 'y', message: 'z' });
    await alerter.close(100);
    expect((await metrics.alerts.get()).values).toHaveLength(0);
  });
});

describe('watchStorageFailures', () => {
  it('reports storage-side failures of every port, while the caller still gets its error', async () => {
    const heard: string[] = [];
    const fake = {
      objects: {
        // eslint-disable-next-line require-yield
        async *list() {
          throw errors.storageUnavailable(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));
        },
        async head() {
          throw errors.internal(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
        },
      },
      records: {
        async getRecord() {
          throw errors.recordNotFound('r1');
        },
        async putRecords() {
          throw errors.internal(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));
        },
      },
      control: {
        async getProject(id: string) {
          return { id };
        },
        ping() {
          throw errors.storageUnavailable(new Error('sync failure'));
        },
      },
      close: async () => undefined,
    } as unknown as Storage;
    const watched = watchStorageFailures(fake, (f) => heard.push(`${f.operation} ${f.errorClass} ${f.message}`));

    await expect(async () => {
      for await (const page of watched.objects.list('b', 'incoming/')) void page;
    }).rejects.toMatchObject({ code: 'storage_unavailable' });
    await expect(watched.objects.head('b', 'k')).rejects.toMatchObject({ code: 'internal_error' });
    await expect(watched.records.getRecord('t', 'r1')).rejects.toMatchObject({ code: 'record_not_found' });
    await expect(watched.records.putRecords('t', [])).rejects.toMatchObject({ code: 'internal_error' });
    expect(() => watched.control.ping()).toThrow(expect.objectContaining({ code: 'storage_unavailable' }));
    expect(await watched.control.getProject('p1')).toEqual({ id: 'p1' });

    expect(heard).toEqual([
      'objects.list storage_unavailable down',
      'records.putRecords internal_error:AccessDeniedException not allowed',
      'control.ping storage_unavailable sync failure',
    ]);
  });
});

describe('alerts wired into the real server', () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGTERM')));
    await Promise.all(dirs.splice(0).map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  const call = async (server: ServerProcess, method: string, urlPath: string, headers: Record<string, string>, body?: string) => {
    const response = await fetch(`${server.baseUrl}${urlPath}`, { method, headers, body });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  it('posts an alert for a failed and a partial job, and keeps the webhook URL out of the logs', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-alerts-'));
    dirs.push(dataDir);
    const server = await spawnServer({
      env: {
        INTAKE_DATA_DIR: dataDir,
        INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
        INTAKE_POLL_INTERVAL_MS: '100',
        INTAKE_ALERT_WEBHOOK_URL: receiver.url,
      },
    });
    servers.push(server);
    const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    expect((await call(server, 'POST', '/v1/projects', admin, JSON.stringify({ id: 'alerted', name: 'Alerted' }))).status).toBe(201);
    const key = (await call(server, 'POST', '/v1/projects/alerted/keys', admin, JSON.stringify({ name: 'k' }))).json.key as string;
    const upload = async (name: string, body: string) => {
      const reply = await call(server, 'PUT', `/v1/projects/alerted/files/${name}`, { 'x-api-key': key, 'content-type': 'application/x-ndjson' }, body);
      expect(reply.status).toBe(202);
      return reply.json.jobId as string;
    };
    const partial = await upload('half.ndjson', '{"a":1}\nnot json\n');
    const failed = await upload('none.ndjson', 'not json\nnor this\n');

    await until(() => receiver.received.length === 2, 20_000);
    const texts = receiver.received.map((r) => r.body.text).sort();
    expect(texts.find((t) => t.includes(failed))).toContain('Intake job failed in project alerted: none.ndjson');
    expect(texts.find((t) => t.includes(partial))).toContain('Intake job ended partial in project alerted: half.ndjson');
    await until(() => server.events().filter((e) => e.event === 'alert_sent').length === 2);
    expect(server.logs()).not.toContain('hook-secret-part');
  }, 60_000);

  it('posts an alert when storage keeps failing (S3 unreachable) and stays up', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const aws = testAwsEnv();
    const deadPort = await findFreePort();
    const server = await spawnServer({
      env: {
        INTAKE_STORAGE: 'aws',
        INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
        INTAKE_NAME_PREFIX: `${uniqueName('al')}-`,
        INTAKE_POLLER: 'off',
        INTAKE_ALERT_WEBHOOK_URL: receiver.url,
        AWS_REGION: aws.region,
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${deadPort}`,
        INTAKE_S3_FORCE_PATH_STYLE: 'true',
      },
    });
    servers.push(server);
    for (let i = 0; i < 5; i++) {
      const ready = await call(server, 'GET', '/readyz', {});
      expect(ready.status).toBe(503);
    }
    await until(() => receiver.received.length >= 1, 15_000);
    expect(receiver.received[0]!.body.text).toContain('Intake storage errors persist');
    expect(receiver.received[0]!.body.text).toContain('objects.ping');
    // More failures within the repeat window add nothing.
    await call(server, 'GET', '/readyz', {});
    await sleep(300);
    expect(receiver.received).toHaveLength(1);
    expect((await call(server, 'GET', '/healthz', {})).status).toBe(200);
  }, 60_000);
});
