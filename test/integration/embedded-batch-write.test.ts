// The embedded engine serves BatchWriteItem through its own fast path (one LevelDB batch
// per table). Every case here runs against the embedded engine and against AWS's DynamoDB
// Local, and both must answer alike: what is stored afterwards, and which error refuses
// a request (a refused request stores nothing).
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, embeddedClientOptions } from '../../src/storage/aws/clients.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';
import { testAwsEnv, uniqueName } from '../support/endpoints.js';

type Item = Record<string, AttributeValue>;

const put = (id: string, extra: Item = {}): WriteRequest => ({ PutRequest: { Item: { id: { S: id }, v: { S: `value of ${id}` }, ...extra } } });
const del = (id: string): WriteRequest => ({ DeleteRequest: { Key: { id: { S: id } } } });

async function createTable(client: DynamoDBClient, name: string, withIndex = false): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: withIndex
        ? [
            { AttributeName: 'id', AttributeType: 'S' },
            { AttributeName: 'group', AttributeType: 'S' },
          ]
        : [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      ...(withIndex
        ? {
            GlobalSecondaryIndexes: [
              { IndexName: 'by-group', KeySchema: [{ AttributeName: 'group', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
            ],
          }
        : {}),
    }),
  );
  for (;;) {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await sleep(50);
  }
}

async function contents(client: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => (a.id!.S! < b.id!.S! ? -1 : 1));
}

async function refusal(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('the request was not refused');
}

let embedded: EmbeddedDynamo;
let embeddedClient: DynamoDBClient;
let localClient: DynamoDBClient;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-batch-write-'));
  embedded = await startEmbeddedDynamo(dir);
  embeddedClient = createDynamoClient(embeddedClientOptions(embedded));
  const aws = testAwsEnv();
  localClient = createDynamoClient({ region: aws.region, dynamodbEndpoint: aws.dynamodbEndpoint, credentials: aws.credentials });
});

afterAll(async () => {
  embeddedClient?.destroy();
  localClient?.destroy();
  await embedded?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const engines = [
  { name: 'embedded engine', client: () => embeddedClient },
  { name: 'DynamoDB Local', client: () => localClient },
];

describe.each(engines)('BatchWriteItem on the $name', ({ client: clientOf }) => {
  const batch = (client: DynamoDBClient, requestItems: Record<string, WriteRequest[]>) =>
    client.send(new BatchWriteItemCommand({ RequestItems: requestItems }));

  it('writes puts, overwrites, and deletes of one request', async () => {
    const client = clientOf();
    const table = uniqueName('bw');
    await createTable(client, table);
    await batch(client, { [table]: Array.from({ length: 25 }, (_, i) => put(`r${String(i).padStart(2, '0')}`)) });
    const out = await batch(client, {
      [table]: [put('r00', { v: { S: 'replaced' } }), put('r01', { n: { N: '7' } }), del('r02'), del('r03'), del('missing')],
    });
    expect(out.UnprocessedItems ?? {}).toEqual({});
    const items = await contents(client, table);
    expect(items).toHaveLength(23);
    expect(items[0]).toEqual({ id: { S: 'r00' }, v: { S: 'replaced' } });
    // A put replaces the whole item: the old attributes are gone.
    expect(items[1]).toEqual({ id: { S: 'r01' }, v: { S: 'value of r01' }, n: { N: '7' } });
    expect(items.map((i) => i.id!.S)).not.toContain('r02');
    expect(items.map((i) => i.id!.S)).not.toContain('r03');
  });

  it('writes to two tables in one request', async () => {
    const client = clientOf();
    const [a, b] = [uniqueName('bwa'), uniqueName('bwb')];
    await createTable(client, a);
    await createTable(client, b);
    await batch(client, { [a]: [put('x'), put('y')], [b]: [put('z')] });
    expect((await contents(client, a)).map((i) => i.id!.S)).toEqual(['x', 'y']);
    expect((await contents(client, b)).map((i) => i.id!.S)).toEqual(['z']);
  });

  it('refuses a request that names one key twice, storing nothing of it', async () => {
    const client = clientOf();
    const table = uniqueName('bwd');
    await createTable(client, table);
    const error = await refusal(batch(client, { [table]: [put('a'), put('b'), put('a', { v: { S: 'again' } })] }));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('duplicates');
    expect(await contents(client, table)).toEqual([]);
  });

  it('refuses an item without its key, or with a key of the wrong type, storing nothing of the request', async () => {
    const client = clientOf();
    const table = uniqueName('bwk');
    await createTable(client, table);
    // The engines word key errors differently (DynamoDB Local: "One of the required keys
    // was not given a value", "Type mismatch for key"); both refuse the whole request.
    const keyError = { name: 'ValidationException', message: expect.stringMatching(/key/) };
    expect(await refusal(batch(client, { [table]: [put('a'), { PutRequest: { Item: { v: { S: 'no id' } } } }] }))).toEqual(keyError);
    expect(await refusal(batch(client, { [table]: [put('b'), { PutRequest: { Item: { id: { N: '1' } } } }] }))).toEqual(keyError);
    expect(await refusal(batch(client, { [table]: [put('c'), { DeleteRequest: { Key: { other: { S: 'x' } } } }] }))).toEqual(keyError);
    expect(await contents(client, table)).toEqual([]);
  });

  it('refuses a request for a table that does not exist, storing nothing in the one that does', async () => {
    const client = clientOf();
    const table = uniqueName('bwn');
    await createTable(client, table);
    const error = await refusal(batch(client, { [table]: [put('a')], [uniqueName('none')]: [put('b')] }));
    expect(error.name).toBe('ResourceNotFoundException');
    expect(await contents(client, table)).toEqual([]);
  });

  it('keeps a global secondary index up to date', async () => {
    const client = clientOf();
    const table = uniqueName('bwi');
    await createTable(client, table, true);
    await batch(client, { [table]: [put('a', { group: { S: 'g1' } }), put('b', { group: { S: 'g1' } }), put('c', { group: { S: 'g2' } })] });
    await batch(client, { [table]: [put('a', { group: { S: 'g2' } }), del('b')] });
    const query = async (group: string) => {
      const out = await client.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'by-group',
          KeyConditionExpression: '#g = :g',
          ExpressionAttributeNames: { '#g': 'group' },
          ExpressionAttributeValues: { ':g': { S: group } },
        }),
      );
      return (out.Items ?? []).map((i) => i.id!.S).sort();
    };
    expect(await query('g1')).toEqual([]);
    expect(await query('g2')).toEqual(['a', 'c']);
  });

  it('reports consumed capacity when asked', async () => {
    const client = clientOf();
    const table = uniqueName('bwc');
    await createTable(client, table);
    const out = await client.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: [put('a'), put('b')] }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    expect(out.ConsumedCapacity?.[0]?.TableName).toBe(table);
    expect(out.ConsumedCapacity?.[0]?.CapacityUnits).toBeGreaterThan(0);
    expect(await contents(client, table)).toHaveLength(2);
  });

  it('serialises batch puts with updates of the same key', async () => {
    const client = clientOf();
    const table = uniqueName('bwu');
    await createTable(client, table);
    await batch(client, { [table]: [put('counter', { n: { N: '0' } })] });
    // Increments (read, add, write under the key's lock) interleave with batches that
    // set the counter to 1000. In any serial order the counter ends at 1000 plus the
    // increments after the last batch; a batch written between an increment's read and
    // its write would be lost, leaving it below 1000.
    const increments = Array.from({ length: 40 }, () =>
      client.send(
        new UpdateItemCommand({ TableName: table, Key: { id: { S: 'counter' } }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } }),
      ),
    );
    const batches = Array.from({ length: 20 }, (_, b) =>
      batch(client, { [table]: [put('counter', { n: { N: '1000' } }), ...Array.from({ length: 9 }, (_, i) => put(`b${b}-${i}`))] }),
    );
    await Promise.all([...increments, ...batches]);
    const items = await contents(client, table);
    const n = Number(items.find((i) => i.id!.S === 'counter')?.n?.N);
    expect(n).toBeGreaterThanOrEqual(1000);
    expect(n).toBeLessThanOrEqual(1040);
    expect(items).toHaveLength(181);
  });
});
