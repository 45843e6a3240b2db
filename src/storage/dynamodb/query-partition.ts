import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { guard } from '../sdk-errors.js';

type Item = Record<string, AttributeValue>;

/**
 * A Query of one partition (`pk = :pk`) of a table whose key is (pk, sk), read consistently:
 * what every store that keeps a project's items in a partition of its own lists, searches
 * and deletes by.
 */
export interface PartitionQuery {
  table: string;
  pk: string;
  /** Read after this key (exclusive): a page cursor's item. */
  after?: Item;
  /** Items per Query page (DynamoDB also ends a page at 1 MB of items). */
  pageSize?: number;
  /** Applied by DynamoDB after a page is read, so a page may come back short, or empty. */
  filter?: { expression: string; names?: Record<string, string>; values?: Item };
  /** Only these attributes (e.g. `pk, sk` for a delete). */
  projection?: string;
  /** Sort keys in descending order. */
  descending?: boolean;
}

/** The partition's items, one Query page at a time; a reader that has enough leaves the loop, and no more is read. */
export async function* queryPartition(client: DynamoDBClient, query: PartitionQuery): AsyncGenerator<Item[]> {
  let start = query.after;
  do {
    const out = await guard(() =>
      client.send(
        new QueryCommand({
          TableName: query.table,
          KeyConditionExpression: 'pk = :pk',
          FilterExpression: query.filter?.expression,
          ExpressionAttributeNames: query.filter?.names,
          ExpressionAttributeValues: { ...query.filter?.values, ':pk': { S: query.pk } },
          ProjectionExpression: query.projection,
          ExclusiveStartKey: start,
          ScanIndexForward: query.descending === true ? false : undefined,
          Limit: query.pageSize,
          ConsistentRead: true,
        }),
      ),
    );
    yield out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
}

/**
 * One page of a listing: up to `limit` items, and whether more follow. Query pages are read
 * until one item more than asked for is found (a filter or the 1 MB bound can make a page
 * short), so `more` is true only when more really follow.
 */
export async function partitionPage(client: DynamoDBClient, query: PartitionQuery, limit: number): Promise<{ items: Item[]; more: boolean }> {
  const found: Item[] = [];
  for await (const items of queryPartition(client, { pageSize: limit + 1, ...query })) {
    found.push(...items);
    if (found.length > limit) break;
  }
  return { items: found.slice(0, limit), more: found.length > limit };
}
