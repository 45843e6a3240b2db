// Embedded mode sends the record store's calls to the engine without the SDK
// (EngineJsonClient). Every answer and every refusal must be the one the SDK would have
// given for the same call on the same engine, and storage must end the same.
import {
  BatchWriteItemCommand,
  GetItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { isTransientStorageError } from '../../src/storage/aws/aws-errors.js';
import { createDynamoClient, embeddedClientOptions } from '../../src/storage/aws/clients.js';
import { DynamoRecordStore } from '../../src/storage/aws/dynamo-record-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';
import { EngineJsonClient, EngineServiceError } from '../../src/storage/embedded/engine-json-client.js';

type Item = Record<string, AttributeValue>;

function item(id: string, data = `{"n":"${id}"}`): Item {
  return { id: { S: id }, d: { S: data }, s: { S: '{}' }, t: { S: '2026-01-01T00:00:00.000Z' } };
}

function put(i: Item): WriteRequest {
  return { PutRequest: { Item: i } };
}

async function failure(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await run();
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

/** What the adapters read of a refusal. */
function shape(error: Record<string, unknown>) {
  return {
    name: error.name,
    message: error.message,
    fault: error.$fault,
    status: (error.$metadata as { httpStatusCode?: number } | undefined)?.httpStatusCode,
    transient: isTransientStorageError(error),
  };
}

describe('EngineJsonClient (record calls without the SDK, embedded mode)', () => {
  let dir: string;
  let engine: EmbeddedDynamo;
  let sdk: DynamoDBClient;
  let json: EngineJsonClient;
  const table = 'json-client-records';

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-engine-json-'));
    engine = await startEmbeddedDynamo(dir);
    sdk = createDynamoClient(embeddedClientOptions(engine));
    json = new EngineJsonClient(engine.requestHandler);
    await new DynamoRecordStore(sdk, { writeConcurrency: 4 }).ensureTable(table);
  });

  afterAll(async () => {
    sdk.destroy();
    await engine.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes what the SDK reads back, and reads what the SDK reads', async () => {
    const items = Array.from({ length: 25 }, (_, i) => item(`w${String(i).padStart(2, '0')}`, `{"text":"é \\" \\\\ 🙂 ${i}"}`));
    const out = await json.call('BatchWriteItem', { RequestItems: { [table]: items.map(put) } });
    expect(out.UnprocessedItems).toEqual({});
    for (const i of items) {
      const viaSdk = await sdk.send(new GetItemCommand({ TableName: table, Key: { id: i.id! }, ConsistentRead: true }));
      expect(viaSdk.Item).toEqual(i);
      const viaJson = await json.call('GetItem', { TableName: table, Key: { id: i.id! }, ConsistentRead: true });
      expect(viaJson.Item).toEqual(i);
    }
    const missing = await json.call('GetItem', { TableName: table, Key: { id: { S: 'nope' } }, ConsistentRead: true });
    expect(missing.Item).toBeUndefined();

    // Pages: the same items and the same place to go on from.
    let start: Item | undefined;
    let pages = 0;
    do {
      const a = await json.call('Scan', { TableName: table, Limit: 10, ExclusiveStartKey: start });
      const b = await sdk.send(new ScanCommand({ TableName: table, Limit: 10, ExclusiveStartKey: start }));
      expect(a.Items).toEqual(b.Items);
      expect(a.LastEvaluatedKey).toEqual(b.LastEvaluatedKey);
      expect(a.Count).toBe(b.Count);
      start = a.LastEvaluatedKey;
      pages++;
    } while (start !== undefined);
    expect(pages).toBe(3);
  });

  const refusals: { name: string; input: () => { RequestItems: Record<string, WriteRequest[]> }; ids: string[] }[] = [
    { name: 'an unknown table', input: () => ({ RequestItems: { 'no-such-table': [put(item('u1'))] } }), ids: [] },
    { name: 'one key twice in a batch', input: () => ({ RequestItems: { [table]: [put(item('d1')), put(item('d1', '{"again":true}'))] } }), ids: ['d1'] },
    { name: 'a key of the wrong type', input: () => ({ RequestItems: { [table]: [put(item('k1')), put({ ...item('k2'), id: { N: '2' } })] } }), ids: ['k1'] },
    { name: 'an empty batch', input: () => ({ RequestItems: { [table]: [] } }), ids: [] },
  ];

  for (const refusal of refusals) {
    it(`refuses a batch with ${refusal.name} as the SDK does, writing nothing`, async () => {
      const viaJson = await failure(() => json.call('BatchWriteItem', refusal.input()));
      const viaSdk = await failure(() => sdk.send(new BatchWriteItemCommand(refusal.input())));
      expect(viaJson).toBeInstanceOf(EngineServiceError);
      expect(shape(viaJson)).toEqual(shape(viaSdk));
      expect(shape(viaJson).status).toBe(400);
      expect(shape(viaJson).transient).toBe(false);
      for (const id of refusal.ids) {
        const stored = await sdk.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }));
        expect(stored.Item).toBeUndefined();
      }
    });
  }

  it('refuses reads of an unknown table as the SDK does', async () => {
    const get = { TableName: 'no-such-table', Key: { id: { S: 'x' } } };
    expect(shape(await failure(() => json.call('GetItem', get)))).toEqual(shape(await failure(() => sdk.send(new GetItemCommand(get)))));
    const scan = { TableName: 'no-such-table', Limit: 5 };
    expect(shape(await failure(() => json.call('Scan', scan)))).toEqual(shape(await failure(() => sdk.send(new ScanCommand(scan)))));
  });

  it('gives the record store the same errors with and without the SDK', async () => {
    const direct = new DynamoRecordStore(sdk, { writeConcurrency: 4, engine: json });
    const viaSdk = new DynamoRecordStore(sdk, { writeConcurrency: 4 });
    const record = { id: 'r1', data: '{}', source: '{}', ingestedAt: '2026-01-01T00:00:00.000Z' };
    for (const run of [(s: DynamoRecordStore) => s.putRecords('no-such-table', [record]), (s: DynamoRecordStore) => s.getRecord('no-such-table', 'r1')]) {
      const a = await failure(() => run(direct));
      const b = await failure(() => run(viaSdk));
      expect(isAppError(a) && isAppError(b)).toBe(true);
      expect([a.status, a.code]).toEqual([b.status, b.code]);
      expect(a.status).toBe(500);
    }
  });

  it('reports a stopped engine as storage unavailable (503), not as a bad request', async () => {
    const stoppedDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-engine-json-stopped-'));
    const stopped = await startEmbeddedDynamo(stoppedDir);
    const client = new EngineJsonClient(stopped.requestHandler);
    await stopped.close();
    try {
      const error = await failure(() => client.call('GetItem', { TableName: table, Key: { id: { S: 'x' } } }));
      expect(error.code).toBe('ECONNRESET');
      expect(isTransientStorageError(error)).toBe(true);
      const store = new DynamoRecordStore(sdk, { writeConcurrency: 4, engine: client });
      const refused = await failure(() => store.getRecord(table, 'x'));
      expect([refused.status, refused.code]).toEqual([503, 'storage_unavailable']);
    } finally {
      await fs.rm(stoppedDir, { recursive: true, force: true });
    }
  });
});
