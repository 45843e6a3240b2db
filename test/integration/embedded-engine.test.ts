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
    engine = await startEmbeddedDynamo(dir);
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
});
