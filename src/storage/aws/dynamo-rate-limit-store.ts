import {
  GetItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import type { RateCount, RateCounterStore } from '../ports.js';
import { errorName, guard } from './aws-errors.js';

// Old window items are never read again (the window start is part of their key), so
// nothing depends on TTL deletion: DynamoDB Local and dynalite never expire items, and
// on AWS the `ttl` attribute only keeps the table from growing.
const TTL_MARGIN_SECONDS = 300;
const MAX_PLAIN_KEY_LENGTH = 200;

/**
 * Rate-limit counters shared by every task, in the control table: one item per key and
 * fixed window, counted with `UpdateItem ADD` (atomic on DynamoDB, DynamoDB Local and
 * dynalite alike, no transactions). One counter is one item, so a single key can be
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
    await guard(async () => {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression: 'ADD hits :minus',
            ConditionExpression: 'hits > :zero',
            ExpressionAttributeValues: { ':minus': { N: '-1' }, ':zero': { N: '0' } },
          }),
        );
      } catch (error) {
        // Nothing to take back: the window is new or already at zero.
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      }
    });
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
    await guard(async () => {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: itemKey,
            UpdateExpression: 'SET hits = :zero',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':zero': { N: '0' } },
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      }
    });
  }

  /** Windows are aligned to multiples of their length, so every task agrees on the current one. */
  private windowOf(key: string, windowMs: number) {
    const start = Math.floor(this.now() / windowMs) * windowMs;
    // Keys are short (a key id, an address); anything longer is hashed to bound the item key.
    const safe = key.length <= MAX_PLAIN_KEY_LENGTH ? key : createHash('sha256').update(key).digest('base64url');
    return {
      itemKey: { pk: { S: `ratelimit#${safe}#${windowMs}#${start}` }, sk: { S: 'ratelimit' } },
      resetAt: new Date(start + windowMs),
    };
  }
}
