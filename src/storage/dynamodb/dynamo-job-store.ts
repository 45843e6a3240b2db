import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { jobItemSchema, type JobItem, type JobOutcome, type JobProgress } from '../../domain/model.js';
import type { JobStore, Page } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { fromItem, whenConditionHolds } from './conditional-write.js';

type Item = Record<string, AttributeValue>;

const jobKey = (projectId: string, jobId: string) => ({ pk: `job#${projectId}#${jobId}`, sk: 'job' });

const toJob = (item: Item) => fromItem(jobItemSchema, item, 'job');

/** Builds `SET a = :a, b = :b` with names escaped, for the given fields. */
function setClause(fields: Record<string, unknown>, prefix: string) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    names[`#${prefix}${field}`] = field;
    values[`:${prefix}${field}`] = value;
    parts.push(`#${prefix}${field} = :${prefix}${field}`);
  }
  return { parts, names, values };
}

/**
 * Jobs and their leases live in the control table. A lease is two attributes on the job
 * (owner, expiry in epoch ms) taken and extended only by conditional writes, so two
 * workers can never both believe they own a job.
 */
export class DynamoJobStore implements JobStore {
  constructor(
    protected readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  protected async getItem(key: { pk: string; sk: string }): Promise<Item | undefined> {
    return guard(async () => {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(key), ConsistentRead: true }),
      );
      return out.Item;
    });
  }

  async createJob(job: JobItem): Promise<JobItem> {
    return guard(async () => {
      const created = await whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall(
              {
                ...jobKey(job.projectId, job.id),
                gsi1pk: `project#${job.projectId}#jobs`,
                gsi1sk: `${job.createdAt}#${job.id}`,
                ...job,
              },
              { removeUndefinedValues: true },
            ),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (created) return job;
      const existing = await this.getJob(job.projectId, job.id);
      if (!existing) throw new Error(`job ${job.id} exists and then does not`);
      return existing;
    });
  }

  async getJob(projectId: string, jobId: string): Promise<JobItem | null> {
    const item = await this.getItem(jobKey(projectId, jobId));
    return item ? toJob(item) : null;
  }

  async listJobs(projectId: string, options: { limit: number; after?: string }): Promise<Page<JobItem>> {
    return guard(async () => {
      let start: Item | undefined;
      if (options.after !== undefined) {
        const [createdAt, jobId] = options.after.split('|');
        start = marshall({
          gsi1pk: `project#${projectId}#jobs`,
          gsi1sk: `${createdAt}#${jobId}`,
          ...jobKey(projectId, jobId ?? ''),
        });
      }
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': { S: `project#${projectId}#jobs` } },
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: start,
        }),
      );
      const items = (out.Items ?? []).map(toJob);
      const last = items.at(-1);
      return out.LastEvaluatedKey && last ? { items, next: `${last.createdAt}|${last.id}` } : { items };
    });
  }

  async claimJob(projectId: string, jobId: string, owner: string, leaseMs: number): Promise<JobItem | null> {
    const now = Date.now();
    return guard(async () => {
      const out = await whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall(jobKey(projectId, jobId)),
            UpdateExpression:
              'SET leaseOwner = :owner, leaseExpiresAt = :exp, #status = :running, updatedAt = :now, ' +
              'startedAt = if_not_exists(startedAt, :now), attempts = attempts + :one',
            ConditionExpression:
              'attribute_exists(pk) AND #status IN (:queued, :running) AND ' +
              '(attribute_not_exists(leaseOwner) OR leaseExpiresAt < :nowMs)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: marshall({
              ':owner': owner,
              ':exp': now + leaseMs,
              ':running': 'running',
              ':queued': 'queued',
              ':now': new Date(now).toISOString(),
              ':nowMs': now,
              ':one': 1,
            }),
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out?.Attributes ? toJob(out.Attributes) : null;
    });
  }

  async checkpointJob(
    projectId: string,
    jobId: string,
    owner: string,
    leaseMs: number,
    progress?: JobProgress,
  ): Promise<boolean> {
    const now = Date.now();
    const set = setClause({ ...(progress ?? {}), updatedAt: new Date(now).toISOString() }, 'p_');
    return this.ownedUpdate(projectId, jobId, owner, {
      UpdateExpression: `SET leaseExpiresAt = :exp, ${set.parts.join(', ')}`,
      names: set.names,
      values: { ...set.values, ':exp': now + leaseMs },
    });
  }

  async finishJob(projectId: string, jobId: string, owner: string, outcome: JobOutcome): Promise<boolean> {
    const now = new Date().toISOString();
    const set = setClause({ ...outcome, finishedAt: now, updatedAt: now }, 'f_');
    return this.ownedUpdate(projectId, jobId, owner, {
      UpdateExpression: `SET ${set.parts.join(', ')} REMOVE leaseOwner, leaseExpiresAt`,
      names: set.names,
      values: set.values,
    });
  }

  async releaseJob(projectId: string, jobId: string, owner: string): Promise<void> {
    await this.ownedUpdate(projectId, jobId, owner, {
      UpdateExpression: 'REMOVE leaseOwner, leaseExpiresAt',
      names: {},
      values: {},
    });
  }

  async setJobObjectKey(projectId: string, jobId: string, objectKey: string): Promise<void> {
    await guard(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(jobKey(projectId, jobId)),
          UpdateExpression: 'SET objectKey = :k',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: marshall({ ':k': objectKey }),
        }),
      ),
    );
  }

  /** An update that applies only while `owner` holds the lease. */
  private async ownedUpdate(
    projectId: string,
    jobId: string,
    owner: string,
    update: { UpdateExpression: string; names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<boolean> {
    return guard(async () => {
      const applied = await whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall(jobKey(projectId, jobId)),
            UpdateExpression: update.UpdateExpression,
            ConditionExpression: 'leaseOwner = :owner',
            ExpressionAttributeNames: Object.keys(update.names).length > 0 ? update.names : undefined,
            ExpressionAttributeValues: marshall({ ...update.values, ':owner': owner }, { removeUndefinedValues: true }),
          }),
        ),
      );
      return applied !== undefined;
    });
  }
}
