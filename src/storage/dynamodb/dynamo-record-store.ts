import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  ScanCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors } from '../../errors.js';
import { assertStorableRecord } from '../record-limits.js';
import { GroupCommit } from './group-commit.js';
import type { StoredRecord } from '../../domain/model.js';
import type { IndexQuery, RecordMerge, RecordPage, RecordStore, UpdatedSinceQuery } from '../ports.js';
import { errorName, guard, isTransientStorageError, toStorageError } from '../sdk-errors.js';
import { ensureDynamoTable } from './dynamo-tables.js';
import { tableExists } from './scan-table.js';
import { upsertDynamoRecords } from './dynamo-keyed-writes.js';
import { fromItem, toItem } from './dynamo-record-items.js';
import { assertIndexSlots, indexSlotDefinitions, queryDynamoIndex } from './dynamo-record-indexes.js';
import { assertUpdatedIndex, queryDynamoUpdatedSince, updatedIndexDefinition } from './dynamo-updated-index.js';

/** DynamoDB's BatchWriteItem takes at most 25 puts per call. */
export const BATCH_SIZE = 25;
const MAX_BATCH_ATTEMPTS = 10;


export interface DynamoRecordStoreOptions {
  /** Parallel BatchWriteItem calls per putRecords call. */
  writeConcurrency: number;
  onRetry?: (reason: string) => void;
}

export class DynamoRecordStore implements RecordStore {
  /** One BatchWriteItem call; a job keeps several in flight (INTAKE_WRITE_CONCURRENCY). */
  readonly writeBatchSize = BATCH_SIZE;
  /** Small puts (a few pushed records each) share BatchWriteItem calls under load. */
  private readonly smallPuts: GroupCommit<WriteRequest>;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: DynamoRecordStoreOptions,
  ) {
    this.smallPuts = new GroupCommit(
      (table, requests) => this.writeBatch(table, requests),
      (request) => request.PutRequest!.Item!.id!.S!,
      options.writeConcurrency,
    );
  }

  async ensureTable(table: string): Promise<void> {
    const slots = indexSlotDefinitions();
    const updated = updatedIndexDefinition();
    await ensureDynamoTable(this.client, {
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }, ...slots.attributes, ...updated.attributes],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [...slots.indexes, updated.index],
      BillingMode: 'PAY_PER_REQUEST',
    });
  }

  async putRecords(table: string, records: StoredRecord[]): Promise<void> {
    // Refused here, before any write, so that no part of the batch is stored and the
    // caller sees the error every record store gives (DynamoDB would answer a bare
    // ValidationException for that item's whole BatchWriteItem call).
    for (const record of records) assertStorableRecord(record);
    const chunks: WriteRequest[][] = [];
    for (let i = 0; i < records.length; i += BATCH_SIZE) {
      // A batch may not name one key twice; the last write of an id wins, as PutItem would.
      const byId = new Map<string, WriteRequest>();
      for (const record of records.slice(i, i + BATCH_SIZE)) {
        byId.set(record.id, { PutRequest: { Item: toItem(record) } });
      }
      chunks.push([...byId.values()]);
    }
    if (chunks.length === 1 && chunks[0]!.length < BATCH_SIZE) {
      await this.smallPuts.add(table, chunks[0]!);
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        await this.writeBatch(table, chunk);
      }
    };
    const workers = Math.min(this.options.writeConcurrency, chunks.length);
    await Promise.all(Array.from({ length: workers }, worker));
  }

  /** One BatchWriteItem with retry of UnprocessedItems and throttling, exponential backoff with jitter. */
  private async writeBatch(table: string, requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        const unprocessed = out.UnprocessedItems?.[table] ?? [];
        if (unprocessed.length === 0) return;
        pending = unprocessed;
        this.options.onRetry?.('unprocessed_items');
      } catch (error) {
        if (!isTransientStorageError(error)) throw toStorageError(error);
        if (attempt >= MAX_BATCH_ATTEMPTS) throw errors.storageUnavailable(error);
        this.options.onRetry?.(errorName(error) ?? 'transient');
      }
      if (attempt >= MAX_BATCH_ATTEMPTS) throw errors.storageUnavailable();
      await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }

  async upsertRecords(table: string, ids: readonly string[], merge: RecordMerge): Promise<void> {
    await upsertDynamoRecords(this.client, table, ids, merge);
  }

  async ensureIndexes(table: string): Promise<void> {
    await assertIndexSlots(this.client, table);
  }

  async queryIndex(table: string, query: IndexQuery): Promise<RecordPage> {
    return queryDynamoIndex(this.client, table, query);
  }

  async listUpdatedSince(table: string, query: UpdatedSinceQuery): Promise<RecordPage> {
    // Checked on the first page only: DescribeTable has a low request rate on AWS.
    if (query.after === undefined) await assertUpdatedIndex(this.client, table);
    return queryDynamoUpdatedSince(this.client, table, query);
  }

  /** The GSIs follow the item: DynamoDB drops its index entries with it. */
  async deleteRecord(table: string, id: string): Promise<StoredRecord | null> {
    return guard(async () => {
      const out = await this.client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } }, ReturnValues: 'ALL_OLD' }));
      return out.Attributes ? fromItem(out.Attributes) : null;
    });
  }

  /**
   * DescribeTable's ItemCount: free to read, but AWS refreshes it only about every six hours,
   * so it lags new writes (a Scan would be exact and cost a read of the whole table).
   */
  async countRecords(table: string): Promise<{ count: number; exact: boolean }> {
    return guard(async () => {
      try {
        const out = await this.client.send(new DescribeTableCommand({ TableName: table }));
        return { count: out.Table?.ItemCount ?? 0, exact: false };
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return { count: 0, exact: false };
        throw error;
      }
    });
  }

  /** Resolves once the table is gone, so a new table of the same name can be made at once. */
  async deleteTable(table: string): Promise<void> {
    await guard(async () => {
      try {
        await this.client.send(new DeleteTableCommand({ TableName: table }));
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException' && errorName(error) !== 'ResourceInUseException') throw error;
      }
      const deadline = Date.now() + 300_000;
      for (let delay = 50; await tableExists(this.client, table); delay = Math.min(delay * 2, 2000)) {
        if (Date.now() > deadline) throw new Error(`Table ${table} was not deleted in time`);
        await sleep(delay);
      }
    });
  }

  async getRecord(table: string, id: string): Promise<StoredRecord | null> {
    return guard(async () => {
      const out = await this.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }));
      return out.Item ? fromItem(out.Item) : null;
    });
  }

  async listRecords(table: string, options: { limit: number; afterId?: string }): Promise<RecordPage> {
    return guard(async () => {
      const out = await this.client.send(
        new ScanCommand({
          TableName: table,
          Limit: options.limit,
          ExclusiveStartKey: options.afterId === undefined ? undefined : { id: { S: options.afterId } },
        }),
      );
      const items = (out.Items ?? []).map(fromItem);
      const lastId = out.LastEvaluatedKey?.id?.S;
      return lastId === undefined ? { items } : { items, lastId };
    });
  }
}
