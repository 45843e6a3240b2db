import {
  DeleteItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ProjectChanges } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { whenConditionHolds } from './conditional-write.js';

type Item = Record<string, AttributeValue>;

/**
 * Applies a project's changes when it exists and is not being deleted (one conditional
 * UpdateItem); false otherwise. An empty allowlist removes the attribute.
 */
export async function updateDynamoProject(client: DynamoDBClient, table: string, id: string, changes: ProjectChanges): Promise<boolean> {
  const sets: string[] = [];
  const removes: string[] = [];
  const names: Record<string, string> = {};
  const values: Item = {};
  for (const [field, value] of Object.entries(changes) as [string, unknown][]) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    if (Array.isArray(value) && value.length === 0) removes.push(`#${field}`);
    else {
      sets.push(`#${field} = :${field}`);
      values[`:${field}`] = marshall({ v: value }, { removeUndefinedValues: true }).v!;
    }
  }
  if (sets.length === 0 && removes.length === 0) return true;
  const expression = [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '']
    .filter(Boolean)
    .join(' ');
  const out = await guard(() =>
    whenConditionHolds(() =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: marshall({ pk: `project#${id}`, sk: 'project' }),
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletion)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length > 0 ? values : undefined,
        }),
      ),
    ),
  );
  return out !== undefined;
}

/**
 * Removes everything the control table holds for a project: its API keys and jobs (found
 * through the listing index), its idempotency claims (keyed by a digest, so found by a
 * filtered scan of the table: a rare, admin-only operation) and, last, the project itself,
 * so that a removal stopped half-way is found and finished again.
 */
export async function removeDynamoProject(client: DynamoDBClient, table: string, id: string): Promise<void> {
  for (const listing of [`project#${id}#keys`, `project#${id}#jobs`]) {
    let start: Item | undefined;
    do {
      const out = await guard(() =>
        client.send(
          new QueryCommand({
            TableName: table,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :p',
            ExpressionAttributeValues: { ':p': { S: listing } },
            ProjectionExpression: 'pk, sk',
            ExclusiveStartKey: start,
          }),
        ),
      );
      await deleteItems(client, table, out.Items ?? []);
      start = out.LastEvaluatedKey;
    } while (start);
  }
  let start: Item | undefined;
  do {
    const out = await guard(() =>
      client.send(
        new ScanCommand({
          TableName: table,
          FilterExpression: 'begins_with(pk, :p) OR begins_with(pk, :f)',
          ExpressionAttributeValues: { ':p': { S: `idem#${id}#` }, ':f': { S: `ingested#${id}#` } },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: start,
        }),
      ),
    );
    await deleteItems(client, table, out.Items ?? []);
    start = out.LastEvaluatedKey;
  } while (start);
  await deleteItems(client, table, [marshall({ pk: `project#${id}`, sk: 'project' })]);
}

async function deleteItems(client: DynamoDBClient, table: string, keys: Item[]): Promise<void> {
  for (const key of keys) {
    await guard(() => client.send(new DeleteItemCommand({ TableName: table, Key: { pk: key.pk!, sk: key.sk! } })));
  }
}
