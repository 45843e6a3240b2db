import { PutItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ulid } from 'ulid';
import { ALERT_RETENTION_MS, INGESTED_RETENTION_MS } from '../activity-retention.js';
import type { ActivityStore, AlertEvent, HourlyCount } from '../ports.js';
import { guard } from '../sdk-errors.js';

const INGESTED = 'activity#ingested';
const ALERTS = 'activity#alerts';
const epochSeconds = (ms: number) => String(Math.floor(ms / 1000));

/**
 * The console's activity as items of the control table, in two partitions. Ingest counts:
 * `pk = activity#ingested`, `sk = <hour>#<project>`, one UpdateItem ADD per push or job
 * checkpoint (adds from many tasks never overwrite each other), so the last 24 hours are one
 * Query from `<since>`. Alerts: `pk = activity#alerts`, `sk` a ULID (time-ordered), read
 * newest first with a limit. Both carry `ttl` so DynamoDB drops old items by itself; reads
 * skip what has expired but not yet been removed. The item count stays bounded by the
 * retention (hours × projects; alerts as they fire, which the alerter already rate-limits).
 */
export class DynamoActivityStore implements ActivityStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async addIngested(projectId: string, hour: string, records: number): Promise<void> {
    await guard(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: INGESTED }, sk: { S: `${hour}#${projectId}` } },
          UpdateExpression: 'SET #hour = :hour, #project = :project, #ttl = :ttl ADD #records :n',
          ExpressionAttributeNames: { '#hour': 'hour', '#project': 'projectId', '#ttl': 'ttl', '#records': 'records' },
          ExpressionAttributeValues: {
            ':hour': { S: hour },
            ':project': { S: projectId },
            ':ttl': { N: epochSeconds(Date.parse(hour) + INGESTED_RETENTION_MS) },
            ':n': { N: String(records) },
          },
        }),
      ),
    );
  }

  async ingestedSince(since: string): Promise<HourlyCount[]> {
    const counts: HourlyCount[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await guard(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND sk >= :since',
            ExpressionAttributeValues: { ':pk': { S: INGESTED }, ':since': { S: since } },
            ExclusiveStartKey: start,
          }),
        ),
      );
      for (const item of out.Items ?? []) {
        counts.push({ hour: item.hour?.S ?? '', projectId: item.projectId?.S ?? '', records: Number(item.records?.N ?? 0) });
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return counts;
  }

  async recordAlert(alert: AlertEvent): Promise<void> {
    const at = Date.parse(alert.at);
    const item: Record<string, AttributeValue> = {
      pk: { S: ALERTS },
      sk: { S: ulid(Number.isFinite(at) ? at : Date.now()) },
      at: { S: alert.at },
      kind: { S: alert.kind },
      message: { S: alert.message },
      ttl: { N: epochSeconds((Number.isFinite(at) ? at : Date.now()) + ALERT_RETENTION_MS) },
    };
    if (alert.projectId !== undefined) item.projectId = { S: alert.projectId };
    await guard(() => this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item })));
  }

  async latestAlerts(limit: number, now: number): Promise<AlertEvent[]> {
    const out = await guard(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk >= :oldest',
          ExpressionAttributeValues: { ':pk': { S: ALERTS }, ':oldest': { S: ulid(now - ALERT_RETENTION_MS).slice(0, 10) } },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).map((item) => ({
      at: item.at?.S ?? '',
      kind: item.kind?.S ?? '',
      ...(item.projectId?.S === undefined ? {} : { projectId: item.projectId.S }),
      message: item.message?.S ?? '',
    }));
  }
}
