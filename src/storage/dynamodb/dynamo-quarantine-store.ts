import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors } from '../../errors.js';
import type { QuarantineEntry } from '../../quality/quarantine/quarantine-entry.js';
import type { Page, QuarantineStore } from '../ports.js';
import { whenConditionHolds } from './conditional-write.js';
import { partitionPage } from './query-partition.js';
import { guard, isTransientStorageError, toStorageError } from '../sdk-errors.js';

const MAX_BATCH_ATTEMPTS = 8;
const BATCH_WRITE_ITEMS = 25;

const partition = (projectId: string) => `quarantine#${projectId}`;
/** The replay lease lives beside the entries' partition, never in a listing. */
const leaseKey = (projectId: string) => ({ pk: { S: `quarantine-replay#${projectId}` }, sk: { S: 'lease' } });

/**
 * Quarantined rows as items of the control table, one partition per project
 * (`pk = quarantine#<project>`, `sk` = entry id, so a listing is one Query in id order).
 * `ttl` (epoch seconds) is the table's TTL attribute; reads also skip entries past it,
 * since TTL deletes only within a day or two of expiry.
 */
export class DynamoQuarantineStore implements QuarantineStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async putEntries(projectId: string, entries: readonly QuarantineEntry[]): Promise<void> {
    // One entry per id per call: BatchWriteItem refuses two requests for the same key.
    const unique = [...new Map(entries.map((entry) => [entry.id, entry])).values()];
    for (let start = 0; start < unique.length; start += BATCH_WRITE_ITEMS) {
      const requests: WriteRequest[] = unique.slice(start, start + BATCH_WRITE_ITEMS).map((entry) => ({
        PutRequest: { Item: this.itemOf(projectId, entry) },
      }));
      await this.writeBatch(requests);
    }
  }

  async listEntries(
    projectId: string,
    options: { jobId?: string; code?: string; limit: number; after?: string; now: number },
  ): Promise<Page<QuarantineEntry>> {
    const filters = ['#expires > :now'];
    const names: Record<string, string> = { '#expires': 'expiresAt' };
    const values: Record<string, AttributeValue> = { ':now': { N: String(options.now) } };
    if (options.jobId !== undefined) {
      filters.push('#job = :job');
      names['#job'] = 'jobId';
      values[':job'] = { S: options.jobId };
    }
    if (options.code !== undefined) {
      filters.push('#code = :code');
      names['#code'] = 'code';
      values[':code'] = { S: options.code };
    }
    const pk = partition(projectId);
    const page = await partitionPage(
      this.client,
      {
        table: this.tableName,
        pk,
        after: options.after === undefined ? undefined : { pk: { S: pk }, sk: { S: options.after } },
        filter: { expression: filters.join(' AND '), names, values },
        // A filter is applied after each page is read: pages of at least 100 are read until
        // one more entry than asked for is found.
        pageSize: Math.max(options.limit + 1, 100),
      },
      options.limit,
    );
    const items = page.items.map((item) => JSON.parse(item.doc!.S!) as QuarantineEntry);
    return page.more ? { items, next: items.at(-1)!.id } : { items };
  }

  async deleteEntry(projectId: string, id: string): Promise<boolean> {
    const out = await guard(() =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: partition(projectId) }, sk: { S: id } },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return out.Attributes !== undefined;
  }

  /** DynamoDB's TTL removes expired items; listings already skip them. */
  async sweepExpired(): Promise<number> {
    return 0;
  }

  async claimReplay(projectId: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const expiresAt = now + leaseMs;
    const out = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              ...leaseKey(projectId),
              owner: { S: owner },
              expiresAt: { N: String(expiresAt) },
              ttl: { N: String(Math.ceil(expiresAt / 1000) + 3600) },
            },
            ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR #expires <= :now',
            ExpressionAttributeNames: { '#owner': 'owner', '#expires': 'expiresAt' },
            ExpressionAttributeValues: { ':owner': { S: owner }, ':now': { N: String(now) } },
          }),
        ),
      ),
    );
    return out !== undefined;
  }

  async releaseReplay(projectId: string, owner: string): Promise<void> {
    await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: leaseKey(projectId),
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
        ),
      ),
    );
  }

  private itemOf(projectId: string, entry: QuarantineEntry): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = {
      pk: { S: partition(projectId) },
      sk: { S: entry.id },
      code: { S: entry.reason.code },
      expiresAt: { N: String(entry.expiresAt) },
      ttl: { N: String(Math.ceil(entry.expiresAt / 1000)) },
      doc: { S: JSON.stringify(entry) },
    };
    if (entry.jobId !== undefined) item.jobId = { S: entry.jobId };
    return item;
  }

  private async writeBatch(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }));
        const unprocessed = out.UnprocessedItems?.[this.tableName] ?? [];
        if (unprocessed.length === 0) return;
        pending = unprocessed;
      } catch (error) {
        if (!isTransientStorageError(error)) throw toStorageError(error);
        if (attempt >= MAX_BATCH_ATTEMPTS) throw errors.storageUnavailable(error);
      }
      if (attempt >= MAX_BATCH_ATTEMPTS) throw errors.storageUnavailable();
      await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }
}
