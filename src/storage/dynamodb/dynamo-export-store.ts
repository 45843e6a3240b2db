import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ExportJob } from '../../export/export-job.js';
import { isFinished } from '../../export/export-job.js';
import type { ExportJobStore, Page } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { whenConditionHolds } from './conditional-write.js';
import { partitionPage, queryPartition } from './query-partition.js';

type Item = Record<string, AttributeValue>;

const partition = (projectId: string) => `export#${projectId}`;
const keyOf = (projectId: string, id: string) => ({ pk: { S: partition(projectId) }, sk: { S: id } });

/** Unfinished jobs read per page when looking for a project's next one. */
const SCAN_PAGE = 50;

/**
 * Export jobs as items of the control table, one partition per project (`pk =
 * export#<project>`, `sk` = the job's ULID, so a Query lists them in creation order). The
 * job is kept as JSON text in `doc`; status and lease are attributes so that claims and
 * saves are conditional writes, as for file jobs.
 */
export class DynamoExportStore implements ExportJobStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async createExport(job: ExportJob): Promise<boolean> {
    const out = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({ TableName: this.tableName, Item: this.itemOf(job), ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      ),
    );
    return out !== undefined;
  }

  async getExport(projectId: string, id: string): Promise<ExportJob | null> {
    const out = await guard(() =>
      this.client.send(new GetItemCommand({ TableName: this.tableName, Key: keyOf(projectId, id), ConsistentRead: true })),
    );
    return out.Item ? (JSON.parse(out.Item.doc!.S!) as ExportJob) : null;
  }

  async listExports(projectId: string, options: { limit: number; after?: string }): Promise<Page<ExportJob>> {
    const after = options.after === undefined ? undefined : keyOf(projectId, options.after);
    const page = await partitionPage(this.client, { table: this.tableName, pk: partition(projectId), after, descending: true }, options.limit);
    const items = page.items.map((item) => JSON.parse(item.doc!.S!) as ExportJob);
    return page.more ? { items, next: items.at(-1)!.id } : { items };
  }

  async nextUnfinishedExport(projectId: string): Promise<ExportJob | null> {
    const unfinished = {
      expression: '#status IN (:queued, :running)',
      names: { '#status': 'status' },
      values: { ':queued': { S: 'queued' }, ':running': { S: 'running' } },
    };
    for await (const items of queryPartition(this.client, { table: this.tableName, pk: partition(projectId), filter: unfinished, pageSize: SCAN_PAGE })) {
      const first = items[0];
      if (first) return JSON.parse(first.doc!.S!) as ExportJob;
    }
    return null;
  }

  async claimExport(projectId: string, id: string, owner: string, leaseMs: number, now: number): Promise<ExportJob | null> {
    const job = await this.getExport(projectId, id);
    if (job === null || isFinished(job)) return null;
    if (job.leaseOwner !== undefined && job.leaseOwner !== owner && (job.leaseExpiresAt ?? 0) > now) return null;
    const claimed: ExportJob = {
      ...job,
      status: 'running',
      attempts: job.attempts + (job.leaseOwner === owner ? 0 : 1),
      leaseOwner: owner,
      leaseExpiresAt: now + leaseMs,
      startedAt: job.startedAt ?? new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    // The lease as read decides: another claimer that wrote meanwhile makes this write fail.
    const out = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: this.itemOf(claimed),
            ConditionExpression:
              'attribute_exists(pk) AND #status IN (:queued, :running) AND (attribute_not_exists(#owner) OR #owner = :owner OR #expires <= :now)',
            ExpressionAttributeNames: { '#status': 'status', '#owner': 'leaseOwner', '#expires': 'leaseExpiresAt' },
            ExpressionAttributeValues: {
              ':queued': { S: 'queued' },
              ':running': { S: 'running' },
              ':owner': { S: owner },
              ':now': { N: String(now) },
            },
          }),
        ),
      ),
    );
    return out === undefined ? null : claimed;
  }

  async saveExport(job: ExportJob, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const finished = isFinished(job);
    const saved: ExportJob = {
      ...job,
      leaseOwner: finished ? undefined : owner,
      leaseExpiresAt: finished ? undefined : now + leaseMs,
      updatedAt: new Date(now).toISOString(),
    };
    const out = await guard(() =>
      whenConditionHolds(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: this.itemOf(saved),
            ConditionExpression: '#owner = :owner AND #expires >= :now',
            ExpressionAttributeNames: { '#owner': 'leaseOwner', '#expires': 'leaseExpiresAt' },
            ExpressionAttributeValues: { ':owner': { S: owner }, ':now': { N: String(now) } },
          }),
        ),
      ),
    );
    return out !== undefined;
  }

  async deleteExports(projectId: string): Promise<void> {
    const keys = { table: this.tableName, pk: partition(projectId), projection: 'pk, sk', pageSize: 100 };
    for await (const items of queryPartition(this.client, keys)) {
      for (const item of items) {
        await guard(() => this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: item.pk!, sk: item.sk! } })));
      }
    }
  }

  private itemOf(job: ExportJob): Item {
    const item: Item = { ...keyOf(job.projectId, job.id), status: { S: job.status }, doc: { S: JSON.stringify(job) } };
    if (job.leaseOwner !== undefined) item.leaseOwner = { S: job.leaseOwner };
    if (job.leaseExpiresAt !== undefined) item.leaseExpiresAt = { N: String(job.leaseExpiresAt) };
    return item;
  }
}
