import {
  DescribeTableCommand,
  GetItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { errorName } from '../sdk-errors.js';

/** An item as plain values (strings, numbers, lists, maps), as `unmarshall` gives it. */
export type PlainItem = Record<string, unknown>;

type Item = Record<string, AttributeValue>;

/**
 * Every item of `table`, one Scan page at a time (a page is up to 1 MB of items), with
 * consistent reads. Items come back as plain values; numbers that do not fit a double
 * are refused by `unmarshall`, which no item Intake writes holds (records are text).
 */
export async function* scanTable(client: DynamoDBClient, table: string): AsyncIterable<PlainItem[]> {
  let start: Item | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    yield (out.Items ?? []).map((item) => unmarshall(item));
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
}

/** How many items `table` holds, counted by a Scan (DescribeTable's count is only an estimate). */
export async function countItems(client: DynamoDBClient, table: string): Promise<number> {
  let count = 0;
  let start: Item | undefined;
  do {
    const out = await client.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start, ConsistentRead: true }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

/** One item by its key, read consistently; `null` when there is none. */
export async function getPlainItem(client: DynamoDBClient, table: string, key: PlainItem): Promise<PlainItem | null> {
  const out = await client.send(new GetItemCommand({ TableName: table, Key: marshall(key), ConsistentRead: true }));
  return out.Item ? unmarshall(out.Item) : null;
}

/** Whether `table` exists (DescribeTable rather than ListTables: the task role may not list). */
export async function tableExists(client: DynamoDBClient, table: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return true;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
}
