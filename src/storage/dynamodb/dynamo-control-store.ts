import {
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createHash } from 'node:crypto';
import { errors } from '../../errors.js';
import {
  apiKeyItemSchema,
  idempotencyClaimSchema,
  projectItemSchema,
  type ApiKeyItem,
  type IdempotencyClaim,
  type ProjectItem,
} from '../../domain/model.js';
import type { StoredModel } from '../../domain/record-model.js';
import type { ControlStore, IngestedFile, Page, ProjectChanges } from '../ports.js';
import { removeDynamoProject, updateDynamoProject } from './dynamo-project-removal.js';
import { errorName, guard } from '../sdk-errors.js';
import { fromItem, whenConditionHolds } from './conditional-write.js';
import { DynamoJobStore } from './dynamo-job-store.js';
import { DynamoQuarantineStore } from './dynamo-quarantine-store.js';
import { DynamoExportStore } from './dynamo-export-store.js';
import { DynamoFieldCatalogStore } from './dynamo-field-catalog-store.js';
import { DynamoActivityStore } from './dynamo-activity-store.js';
import { ensureDynamoTable } from './dynamo-tables.js';

/**
 * The control table holds projects, API keys and idempotency claims (and later jobs and
 * leases) as a single-table design: `pk`/`sk` for direct access, and the `gsi1` index
 * (`gsi1pk`/`gsi1sk`) for listings.
 */
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** DynamoDB's TTL attribute on the control table (epoch seconds); the stack enables it too. */
const TTL_ATTRIBUTE = 'ttl';
/** Attempts at a claim when the item read back after a refused write has just gone (expired or erased). */
const CLAIM_ATTEMPTS = 3;

export interface ControlStoreOptions {
  /** How long an idempotency claim holds (INTAKE_IDEMPOTENCY_TTL_HOURS); 24 h by default. */
  idempotencyTtlMs?: number;
  /** The clock claims are dated and judged by (tests inject one). */
  now?: () => number;
}

type Item = Record<string, AttributeValue>;

const projectKey = (id: string) => ({ pk: `project#${id}`, sk: 'project' });
const keyKey = (id: string) => ({ pk: `key#${id}`, sk: 'key' });

export class DynamoControlStore extends DynamoJobStore implements ControlStore {
  readonly quarantine = new DynamoQuarantineStore(this.client, this.tableName);
  readonly exports = new DynamoExportStore(this.client, this.tableName);
  readonly catalog = new DynamoFieldCatalogStore(this.client, this.tableName);
  readonly activity = new DynamoActivityStore(this.client, this.tableName);
  private readonly idempotencyTtlMs: number;
  private readonly now: () => number;

  constructor(client: DynamoDBClient, tableName: string, options: ControlStoreOptions = {}) {
    super(client, tableName);
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  async ensureTable(): Promise<void> {
    await ensureDynamoTable(this.client, {
      TableName: this.tableName,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    });
    await this.enableTimeToLive();
  }

  /**
   * Lets DynamoDB delete expired claims and counters by itself. The call is made only when
   * TTL is off (a table made by the stack has it on), since a second UpdateTimeToLive
   * within an hour is refused; a concurrent start that enabled it first is no failure.
   */
  private async enableTimeToLive(): Promise<void> {
    await guard(async () => {
      const described = await this.client.send(new DescribeTimeToLiveCommand({ TableName: this.tableName }));
      const status = described.TimeToLiveDescription?.TimeToLiveStatus;
      if (status === 'ENABLED' || status === 'ENABLING') return;
      try {
        await this.client.send(
          new UpdateTimeToLiveCommand({
            TableName: this.tableName,
            TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'ValidationException') throw error;
      }
    });
  }

  async createProject(project: ProjectItem): Promise<void> {
    const created = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall(
              { ...projectKey(project.id), gsi1pk: 'projects', gsi1sk: project.id, ...project },
              { removeUndefinedValues: true },
            ),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
    if (!created) throw errors.projectExists(project.id);
  }

  async updateProject(id: string, changes: ProjectChanges): Promise<ProjectItem | null> {
    return (await updateDynamoProject(this.client, this.tableName, id, changes)) ? this.getProject(id) : null;
  }

  async deleteProject(id: string): Promise<void> {
    await removeDynamoProject(this.client, this.tableName, id);
  }

  async getProject(id: string): Promise<ProjectItem | null> {
    const item = await this.getItem(projectKey(id));
    return item ? fromItem(projectItemSchema, item, 'project') : null;
  }

  async setProjectModel(id: string, model: StoredModel, expectedVersion: number): Promise<boolean> {
    const written = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall(projectKey(id)),
            UpdateExpression: 'SET #m = :m',
            // The version read by the caller: of two concurrent changes, the second is refused, not lost.
            ConditionExpression:
              expectedVersion === 0
                ? 'attribute_exists(pk) AND attribute_not_exists(#m)'
                : 'attribute_exists(pk) AND #m.#v = :v',
            ExpressionAttributeNames: expectedVersion === 0 ? { '#m': 'model' } : { '#m': 'model', '#v': 'version' },
            ExpressionAttributeValues: marshall(
              expectedVersion === 0 ? { ':m': model } : { ':m': model, ':v': expectedVersion },
              { removeUndefinedValues: true },
            ),
          }),
        ),
      ),
    );
    return written !== undefined;
  }

  async listProjects(options: { limit: number; after?: string }): Promise<Page<ProjectItem>> {
    return guard(async () => {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': { S: 'projects' } },
          Limit: options.limit,
          ExclusiveStartKey:
            options.after === undefined
              ? undefined
              : marshall({ gsi1pk: 'projects', gsi1sk: options.after, ...projectKey(options.after) }),
        }),
      );
      const items = (out.Items ?? []).map((item) => fromItem(projectItemSchema, item, 'project'));
      const last = out.LastEvaluatedKey?.gsi1sk?.S;
      return last === undefined ? { items } : { items, next: last };
    });
  }

  async createKey(key: ApiKeyItem): Promise<void> {
    await guard(() =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(
            {
              ...keyKey(key.id),
              gsi1pk: `project#${key.projectId}#keys`,
              gsi1sk: `${key.createdAt}#${key.id}`,
              ...key,
            },
            { removeUndefinedValues: true },
          ),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async getKey(id: string): Promise<ApiKeyItem | null> {
    const item = await this.getItem(keyKey(id));
    return item ? fromItem(apiKeyItemSchema, item, 'API key') : null;
  }

  async listKeys(projectId: string): Promise<ApiKeyItem[]> {
    return guard(async () => {
      const keys: ApiKeyItem[] = [];
      let start: Item | undefined;
      do {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :p',
            ExpressionAttributeValues: { ':p': { S: `project#${projectId}#keys` } },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) keys.push(fromItem(apiKeyItemSchema, item, 'API key'));
        start = out.LastEvaluatedKey;
      } while (start);
      return keys;
    });
  }

  async revokeKey(projectId: string, keyId: string, at: string): Promise<boolean> {
    const revoked = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall(keyKey(keyId)),
            // Revoking twice keeps the first revocation time.
            UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
            ConditionExpression: 'attribute_exists(pk) AND projectId = :p',
            ExpressionAttributeValues: { ':at': { S: at }, ':p': { S: projectId } },
          }),
        ),
      ),
    );
    return revoked !== undefined;
  }

  /**
   * TTL deletion is lazy (up to days late), so an expired claim may still be stored: the
   * write is allowed to replace it, and a retry after expiry is a new request. `expiresAt`
   * (epoch ms) decides; claims written before it existed are judged by `ttl` (seconds).
   */
  async claimIdempotencyKey(
    projectId: string,
    key: string,
    claim: IdempotencyClaim,
  ): Promise<IdempotencyClaim> {
    const digest = createHash('sha256').update(key).digest('base64url');
    const itemKey = { pk: `idem#${projectId}#${digest}`, sk: 'idem' };
    return guard(async () => {
      for (let attempt = 1; ; attempt++) {
        const now = this.now();
        const expiresAt = now + this.idempotencyTtlMs;
        const claimed = await whenConditionHolds(() =>
          this.client.send(
            new PutItemCommand({
              TableName: this.tableName,
              Item: marshall({ ...itemKey, ...claim, expiresAt, [TTL_ATTRIBUTE]: Math.ceil(expiresAt / 1000) }),
              ConditionExpression:
                'attribute_not_exists(pk) OR expiresAt <= :nowMs OR (attribute_not_exists(expiresAt) AND #ttl <= :nowS)',
              ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
              ExpressionAttributeValues: marshall({ ':nowMs': now, ':nowS': Math.floor(now / 1000) }),
            }),
          ),
        );
        if (claimed) return claim;
        const existing = await this.getItem(itemKey);
        if (existing) return fromItem(idempotencyClaimSchema, existing, 'idempotency claim');
        if (attempt >= CLAIM_ATTEMPTS) throw new Error('an idempotency claim exists and then does not');
      }
    });
  }

  async deleteIdempotencyClaims(projectId: string, keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of new Set(keys)) {
      const digest = createHash('sha256').update(key).digest('base64url');
      const out = await guard(() =>
        this.client.send(
          new DeleteItemCommand({ TableName: this.tableName, Key: marshall({ pk: `idem#${projectId}#${digest}`, sk: 'idem' }), ReturnValues: 'ALL_OLD' }),
        ),
      );
      if (out.Attributes) deleted++;
    }
    return deleted;
  }

  /** `ingested#<project>#<sha256>`: one item per content, the first file's (a conditional put). */
  async rememberIngestedFile(projectId: string, sha256: string, file: IngestedFile): Promise<void> {
    await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall({ pk: `ingested#${projectId}#${sha256}`, sk: 'ingested', fileId: file.fileId, jobId: file.jobId }),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    );
  }

  async findIngestedFile(projectId: string, sha256: string): Promise<IngestedFile | null> {
    const item = await this.getItem({ pk: `ingested#${projectId}#${sha256}`, sk: 'ingested' });
    if (!item?.fileId?.S || !item.jobId?.S) return null;
    return { fileId: item.fileId.S, jobId: item.jobId.S };
  }

  async ping(): Promise<void> {
    await guard(() => this.client.send(new DescribeTableCommand({ TableName: this.tableName })));
  }
}
