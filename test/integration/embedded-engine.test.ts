// The embedded DynamoDB engine (dynalite on LevelDB) must let LevelDB delete the files
// compaction replaces, also while Queries and Scans run (the poller lists every poll,
// readers page): otherwise the database and the server's memory grow without bound.
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../src/storage/aws/clients.js';
import { DynamoRecordStore } from '../../src/storage/aws/dynamo-record-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';

describe('embedded DynamoDB engine', () => {
  let dir: string;
  let engine: EmbeddedDynamo;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-embedded-engine-'));
    // LevelDB's own 4 MiB write buffer: the bound below counts table files, and the files a
    // flush writes are as large as the buffer.
    engine = await startEmbeddedDynamo(dir, { writeBufferBytes: 4 << 20 });
  });

  afterAll(async () => {
    await engine.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps only live table files while scans run between writes', async () => {
    const client = createDynamoClient({
      region: 'local',
      dynamodbEndpoint: engine.endpoint,
      credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    });
    const records = new DynamoRecordStore(client, { writeConcurrency: 4 });
    try {
      await records.ensureTable('growth-records');
      const payload = randomBytes(150).toString('hex');
      // 4,000 batches of 25: each rewrites the same 5,000 ids, so the live data stays at
      // about 1.5 MB on disk however much compaction rewrites; a scan runs every 20 batches.
      for (let batch = 0; batch < 4000; batch++) {
        const rows = Array.from({ length: 25 }, (_, i) => ({
          id: `r${(batch % 200) * 25 + i}`,
          data: JSON.stringify({ payload, batch }),
          source: '{}',
          ingestedAt: new Date().toISOString(),
        }));
        await records.putRecords('growth-records', rows);
        if (batch % 20 === 0) await client.send(new ScanCommand({ TableName: 'growth-records', Limit: 10 }));
      }
      // Compaction runs in the background; give it a moment to delete what it replaced.
      let bytes = Infinity;
      const bound = 6 * 1024 * 1024;
      for (let attempt = 0; attempt < 50 && bytes > bound; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.ldb'));
        bytes = 0;
        for (const f of files) bytes += (await fs.stat(path.join(dir, f))).size;
      }
      // 100,000 writes of ~400 bytes pass through; with the files pinned by open
      // iterators about 17 MB of replaced files stayed behind.
      expect(bytes).toBeLessThan(bound);
    } finally {
      client.destroy();
    }
  }, 120_000);

  it('runs beside the caller: a busy caller thread does not stop it answering', async () => {
    const client = createDynamoClient({
      region: 'local',
      dynamodbEndpoint: engine.endpoint,
      credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    });
    try {
      const records = new DynamoRecordStore(client, { writeConcurrency: 4 });
      await records.ensureTable('thread-records');
      // A raw request from a child process while this thread spins: an engine on this
      // thread could not answer until the spin ends.
      const { spawn } = await import('node:child_process');
      const body = JSON.stringify({ TableName: 'thread-records' });
      const probe = spawn(process.execPath, [
        '-e',
        `fetch(${JSON.stringify(engine.endpoint)}, { method: 'POST', body: ${JSON.stringify(body)}, headers: {
          'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.DescribeTable',
          Authorization: 'AWS4-HMAC-SHA256 Credential=embedded/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          'X-Amz-Date': '20260101T000000Z' } }).then((r) => r.text()).then((t) => { process.stdout.write(String(Date.now()) + ' ' + t); })`,
      ]);
      let out = '';
      probe.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((resolve) => probe.on('close', resolve));
      const spinUntil = Date.now() + 2000;
      while (Date.now() < spinUntil && out === '') {
        // Busy for the whole bound: this thread handles no events (out cannot grow) until it ends.
      }
      const spinEnded = Date.now();
      await exited;
      const [answeredAt, text] = [Number(out.slice(0, out.indexOf(' '))), out.slice(out.indexOf(' ') + 1)];
      expect(text).toContain('thread-records');
      expect(answeredAt).toBeLessThan(spinEnded);
    } finally {
      client.destroy();
    }
  }, 30_000);

  it('keeps what was written across a close and a new start on the same directory', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-embedded-restart-'));
    try {
      for (const round of [1, 2]) {
        const started = await startEmbeddedDynamo(other);
        const client = createDynamoClient({
          region: 'local',
          dynamodbEndpoint: started.endpoint,
          credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
        });
        const records = new DynamoRecordStore(client, { writeConcurrency: 4 });
        await records.ensureTable('restart-records');
        if (round === 1) {
          await records.putRecords('restart-records', [{ id: 'r1', data: '{"a":1}', source: '{}', ingestedAt: '2026-11-25T00:00:00.000Z' }]);
        } else {
          expect((await records.getRecord('restart-records', 'r1'))?.data).toBe('{"a":1}');
        }
        client.destroy();
        await started.close();
      }
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  }, 30_000);

  it('fails to start with a clear error when its directory cannot be made', async () => {
    const file = path.join(dir, 'not-a-directory');
    await fs.writeFile(file, 'x');
    await expect(startEmbeddedDynamo(path.join(file, 'dynamodb'))).rejects.toThrow(/ENOTDIR|not a directory/i);
  });

  it('answers the SDK in-thread exactly as over its loopback port, errors included', async () => {
    const credentials = { accessKeyId: 'embedded', secretAccessKey: 'embedded' };
    const overHttp = createDynamoClient({ region: 'local', dynamodbEndpoint: engine.endpoint, credentials });
    const inThread = createDynamoClient({
      region: 'local',
      dynamodbEndpoint: engine.endpoint,
      dynamodbRequestHandler: engine.requestHandler,
      credentials,
    });
    try {
      const records = new DynamoRecordStore(inThread, { writeConcurrency: 4 });
      await records.ensureTable('transport-records');
      const rows = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, data: `{"n":${i},"text":"é ✓ 😀"}`, source: '{}', ingestedAt: '2026-11-25T00:00:00.000Z' }));
      await records.putRecords('transport-records', rows);
      const viaHttp = new DynamoRecordStore(overHttp, { writeConcurrency: 4 });
      for (const id of ['t0', 't59']) {
        expect(await records.getRecord('transport-records', id)).toEqual(await viaHttp.getRecord('transport-records', id));
      }
      expect((await records.getRecord('transport-records', 't7'))?.data).toBe('{"n":7,"text":"é ✓ 😀"}');
      // A refused request fails with the same error either way.
      const bad = new ScanCommand({ TableName: 'no-such-table' });
      const [httpError, threadError] = await Promise.all([
        overHttp.send(bad).then(() => undefined, (e: Error) => e),
        inThread.send(new ScanCommand({ TableName: 'no-such-table' })).then(() => undefined, (e: Error) => e),
      ]);
      expect(threadError?.name).toBe('ResourceNotFoundException');
      expect(threadError?.name).toBe(httpError?.name);
      expect(threadError?.message).toBe(httpError?.message);
    } finally {
      overHttp.destroy();
      inThread.destroy();
    }
  });

  it('refuses an aborted request, and fails requests at once once the engine is closed', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-embedded-transport-'));
    const started = await startEmbeddedDynamo(other);
    const client = createDynamoClient({
      region: 'local',
      dynamodbEndpoint: started.endpoint,
      dynamodbRequestHandler: started.requestHandler,
      credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    });
    try {
      const controller = new AbortController();
      controller.abort();
      await expect(client.send(new ScanCommand({ TableName: 'any-table' }), { abortSignal: controller.signal })).rejects.toThrow(/abort/i);
      await started.close();
      const at = Date.now();
      await expect(client.send(new ScanCommand({ TableName: 'any-table' }))).rejects.toThrow(/closed/);
      expect(Date.now() - at).toBeLessThan(5000);
    } finally {
      client.destroy();
      await started.close();
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});
