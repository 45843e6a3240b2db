import {
  BatchGetItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors } from '../../errors.js';
import type { StoredRecord } from '../../domain/model.js';
import type { RecordMerge } from '../ports.js';
import { assertStorableRecord } from '../record-limits.js';
import { guard } from '../sdk-errors.js';
import { whenConditionHolds } from './conditional-write.js';
import { fromItem, toItem } from './dynamo-record-items.js';

type Item = Record<string, AttributeValue>;

/** BatchGetItem reads at most 100 keys per call. */
const GET_BATCH = 100;
/** Conditional puts in flight per upsert call. */
const PUT_CONCURRENCY = 16;
/** Tries per record when other writers keep changing it between our read and our write. */
const MAX_CONFLICT_ATTEMPTS = 8;

/**
 * Read, merge, conditional write, per record: the put lands only when the record's
 * revision is still the one read (or, for a new record, when there is still none). When
 * another writer (another task, another job) got there first, the record is read again
 * (consistently) and merged again, a bounded number of times with jittered backoff.
 */
export async function upsertDynamoRecords(client: DynamoDBClient, table: string, ids: readonly string[], merge: RecordMerge): Promise<void> {
  const unique = [...new Set(ids)];
  const current = await readRecords(client, table, unique);
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const id = unique[next++]!;
      await upsertOne(client, table, id, current.get(id) ?? null, merge);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, unique.length) }, worker));
}

async function upsertOne(client: DynamoDBClient, table: string, id: string, read: StoredRecord | null, merge: RecordMerge): Promise<void> {
  let current = read;
  for (let attempt = 1; attempt <= MAX_CONFLICT_ATTEMPTS; attempt++) {
    const record = merge(id, current);
    if (record === null) return;
    assertStorableRecord(record);
    const revision = current?.keyed?.revision;
    const written = await guard(() =>
      whenConditionHolds(() =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: toItem(record),
            ...(current === null
              ? { ConditionExpression: 'attribute_not_exists(id)' }
              : revision === undefined
                ? { ConditionExpression: 'attribute_not_exists(r)' }
                : { ConditionExpression: 'r = :r', ExpressionAttributeValues: { ':r': { N: String(revision) } } }),
          }),
        ),
      ),
    );
    if (written !== undefined) return;
    await sleep(Math.random() * 10 * attempt);
    current = await guard(async () => {
      const out = await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }));
      return out.Item ? fromItem(out.Item) : null;
    });
  }
  // Contention this long means many writers on one customer at once: the caller retries later.
  throw errors.storageUnavailable(new Error(`record ${id} kept changing under ${MAX_CONFLICT_ATTEMPTS} merges`));
}

/** The records as stored now (consistent reads), by id; UnprocessedKeys are asked for again. */
async function readRecords(client: DynamoDBClient, table: string, ids: readonly string[]): Promise<Map<string, StoredRecord>> {
  const found = new Map<string, StoredRecord>();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += GET_BATCH) chunks.push(ids.slice(i, i + GET_BATCH));
  await Promise.all(chunks.map((chunk) => readChunk(client, table, chunk, found)));
  return found;
}

async function readChunk(client: DynamoDBClient, table: string, ids: readonly string[], found: Map<string, StoredRecord>): Promise<void> {
  let keys: Item[] | undefined = ids.map((id) => ({ id: { S: id } }));
  for (let attempt = 1; keys !== undefined && keys.length > 0; attempt++) {
    if (attempt > 10) throw errors.storageUnavailable();
    const request: Item[] = keys;
    const out = await guard(() =>
      client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: request, ConsistentRead: true } } })),
    );
    for (const item of out.Responses?.[table] ?? []) found.set(item.id?.S ?? '', fromItem(item));
    keys = out.UnprocessedKeys?.[table]?.Keys;
    if (keys !== undefined && keys.length > 0) await sleep(Math.min(1000, 20 * 2 ** attempt) * Math.random());
  }
}
