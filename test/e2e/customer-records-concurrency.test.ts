// Customer records under concurrency and crashes, with real server processes in aws mode
// on DynamoDB Local and the S3 emulator: two processes merging into the same customers
// never lose an update, and a file job killed with SIGKILL and resumed under `replace`
// applies no row twice and never overwrites a newer write from another source.
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { testAwsEnv, uniqueName } from '../support/endpoints.js';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => (server.exited ? undefined : server.stop('SIGKILL'))));
});

function awsEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  const aws = testAwsEnv();
  return {
    INTAKE_STORAGE: 'aws',
    INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
    INTAKE_NAME_PREFIX: prefix,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    ...extra,
  };
}

async function start(prefix: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await spawnServer({ env: awsEnv(prefix, extra) });
  servers.push(server);
  return server;
}

const admin = { Authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'Content-Type': 'application/json' };

async function call(server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = admin) {
  const res = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {} , text };
}

async function keyedProject(server: ServerProcess, merge: string): Promise<string> {
  const id = uniqueName('cc');
  expect((await call(server, 'POST', '/v1/projects', { id, name: id })).status).toBe(201);
  const model = await call(server, 'PUT', `/v1/projects/${id}/model`, { key: { fields: ['customer'] }, merge });
  expect(model.status, model.text).toBe(200);
  return id;
}

describe('customer records across processes (aws mode)', () => {
  it('two processes merging distinct fields into the same 100 customers lose no update', async () => {
    const prefix = `${uniqueName('r')}-`;
    const [a, b] = await Promise.all([start(prefix, { INTAKE_POLLER: 'off' }), start(prefix, { INTAKE_POLLER: 'off' })]);
    const project = await keyedProject(a!, 'merge');
    const keys = Array.from({ length: 100 }, (_, i) => `c${i}`);
    const rounds = 5;
    // Each process pushes one round at a time, every customer in every round, so the two
    // write to the same items at the same moments.
    const writer = async (server: ServerProcess, tag: string) => {
      for (let round = 0; round < rounds; round++) {
        const body = keys.map((customer) => ({ customer, [`${tag}${round}`]: round }));
        const res = await call(server, 'POST', `/v1/projects/${project}/records`, body);
        expect(res.status, res.text).toBe(200);
        expect(res.body.accepted).toBe(keys.length);
      }
    };
    await Promise.all([writer(a!, 'a'), writer(b!, 'b')]);

    for (const customer of keys) {
      const res = await call(a!, 'GET', `/v1/projects/${project}/records/by-key?customer=${customer}`);
      expect(res.status, res.text).toBe(200);
      const data = res.body.data as Record<string, unknown>;
      expect(Object.keys(data).sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4', 'customer']);
      expect(res.body.version).toBe(2 * rounds);
    }
  }, 180_000);

  it('a file killed mid-way and resumed under replace applies each row once and keeps a newer push', async () => {
    const prefix = `${uniqueName('k')}-`;
    // A long checkpoint interval: the first pass writes many rows past its last checkpoint,
    // which the resumed pass meets again.
    const slow = { INTAKE_LEASE_MS: '3000', INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '600000' };
    const first = await start(prefix, slow);
    const project = await keyedProject(first, 'replace');
    // Rows 1-2000: customers a0..a999, twice each; then rows for b0..b499 to the end. A keyed
    // job writes its batches in row order, so once b0 is stored every `a` row is.
    const early = 1000;
    const late = 500;
    const rows = 12_000;
    let csv = 'customer,row,source\n';
    for (let row = 1; row <= rows; row++) {
      const customer = row <= 2 * early ? `a${(row - 1) % early}` : `b${(row - 2 * early - 1) % late}`;
      csv += `${customer},${row},file\n`;
    }
    const upload = await fetch(`${first.baseUrl}/v1/projects/${project}/files/big.csv`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'Content-Type': 'text/csv' },
      body: csv,
    });
    expect(upload.status).toBe(202);
    const { jobId } = (await upload.json()) as { jobId: string };

    const deadline = Date.now() + 60_000;
    while ((await call(first, 'GET', `/v1/projects/${project}/records/by-key?customer=b0`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('b0 not written within 60 s');
      await sleep(10);
    }
    first.signal('SIGKILL');
    await first.waitForExit(10_000);

    // While no one holds the job, another source writes newer values for customers the
    // killed pass had finished: the resumed pass meets their rows again and must not apply them.
    const second = await start(prefix, { ...slow, INTAKE_POLLER: 'off' });
    const killed = (await call(second, 'GET', `/v1/projects/${project}/jobs/${jobId}`)).body;
    expect(killed.status).toBe('running');
    const touched = Array.from({ length: 50 }, (_, i) => `a${i * 20}`);
    const push = await call(second, 'POST', `/v1/projects/${project}/records`, touched.map((customer) => ({ customer, source: 'push' })));
    expect(push.body.accepted).toBe(touched.length);
    expect(new Set((push.body.records as { status: string }[]).map((r) => r.status))).toEqual(new Set(['updated']));
    await second.stop();

    const third = await start(prefix, { INTAKE_LEASE_MS: '3000' });
    const finishBy = Date.now() + 150_000;
    let finished: Record<string, unknown>;
    for (;;) {
      finished = (await call(third, 'GET', `/v1/projects/${project}/jobs/${jobId}`)).body;
      if (['succeeded', 'partial', 'failed'].includes(String(finished.status))) break;
      if (Date.now() > finishBy) throw new Error(`job not finished: ${JSON.stringify(finished)}`);
      await sleep(200);
    }
    expect(finished).toMatchObject({ status: 'succeeded', rowsRead: rows, recordsWritten: rows, rowsRejected: 0 });
    expect(Number(finished.attempts)).toBeGreaterThanOrEqual(2);

    for (let i = 0; i < early; i += 10) {
      const customer = `a${i}`;
      const res = await call(third, 'GET', `/v1/projects/${project}/records/by-key?customer=${customer}`);
      expect(res.status).toBe(200);
      if (touched.includes(customer)) {
        // Two file rows, then the push: three changes, the push last.
        expect(res.body.data).toEqual({ customer, source: 'push' });
        expect(res.body.version).toBe(3);
      } else {
        expect(res.body.data).toEqual({ customer, row: String(early + i + 1), source: 'file' });
        expect(res.body.version).toBe(2);
      }
    }
    const b = await call(third, 'GET', `/v1/projects/${project}/records/by-key?customer=b7`);
    expect(b.body.data).toMatchObject({ customer: 'b7', source: 'file' });
    expect(b.body.version).toBe((rows - 2 * early) / late);
  }, 300_000);
});
