import {
  GetItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { RateCount, RateCounterStore } from '../ports.js';
import { rateWindow } from '../rate-window.js';
import { guard } from '../sdk-errors.js';
import { whenConditionHolds } from './conditional-write.js';

// Old window items are never read again (the window start is part of their key), so
// nothing depends on TTL deletion: DynamoDB Local never expires items, and
// on AWS the `ttl` attribute only keeps the table from growing.
const TTL_MARGIN_SECONDS = 300;

/**
 * Rate-limit counters shared by every task, in the control table: one item per key and
 * fixed window, counted with `UpdateItem ADD` (atomic, no transactions). One counter is one item, so a single key can be
 * counted at up to DynamoDB's per-item write rate (about 1,000 writes a second).
 */
export class DynamoRateLimitStore implements RateCounterStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async increment(key: string, windowMs: number): Promise<RateCount> {
    const { itemKey, resetAt } = this.windowOf(key, windowMs);
    const ttl = Math.ceil(resetAt.getTime() / 1000) + TTL_MARGIN_SECONDS;
    const out = await guard(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: itemKey,
          // `ttl` is a reserved word in update expressions.
          UpdateExpression: 'ADD hits :one SET #ttl = if_not_exists(#ttl, :ttl)',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':ttl': { N: String(ttl) } },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return { count: Number(out.Attributes?.hits?.N ?? 1), resetAt };
  }

  async decrement(key: string, windowMs: number): Promise<void> {
    const { itemKey } = this.windowOf(key, windowMs);
    // A failed condition means nothing to take back: the window is new or already at zero.
    await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression: 'ADD hits :minus',
            ConditionExpression: 'hits > :zero',
            ExpressionAttributeValues: { ':minus': { N: '-1' }, ':zero': { N: '0' } },
          }),
        ),
      ),
    );
  }

  async get(key: string, windowMs: number): Promise<RateCount | undefined> {
    const { itemKey, resetAt } = this.windowOf(key, windowMs);
    const out = await guard(() =>
      this.client.send(new GetItemCommand({ TableName: this.tableName, Key: itemKey, ProjectionExpression: 'hits' })),
    );
    const hits = out.Item?.hits?.N;
    return hits === undefined ? undefined : { count: Number(hits), resetAt };
  }

  /** Zeroes the counter with UpdateItem, so the task role needs no DeleteItem. */
  async reset(key: string, windowMs: number): Promise<void> {
    const { itemKey } = this.windowOf(key, windowMs);
    await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression: 'SET hits = :zero',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':zero': { N: '0' } },
          }),
        ),
      ),
    );
  }

  private windowOf(key: string, windowMs: number) {
    const { counterKey, resetAt } = rateWindow(key, windowMs, this.now());
    return { itemKey: { pk: { S: counterKey }, sk: { S: 'ratelimit' } }, resetAt };
  }
}
