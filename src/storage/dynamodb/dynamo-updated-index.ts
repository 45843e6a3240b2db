import {
  DescribeTableCommand,
  QueryCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import type { StoredRecord } from '../../domain/model.js';
import { errors } from '../../errors.js';
import type { RecordPage, UpdatedSinceQuery } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { DAY_ATTR, SEPARATOR, SORT_ATTR } from './dynamo-index-keys.js';
import { fromItem } from './dynamo-record-items.js';

/**
 * The records of a project table by write time: a GSI `upd` keyed by the UTC day of the
 * record's updatedAt (`ud`, partition) and `updatedAt NUL id` (`us`, sort). A query for
 * "since T" reads the days from T's to today in order, each from its index partition, so
 * nothing is scanned. Day partitions keep a short incremental feed at one or two queries;
 * a very old `since` costs one (cheap, possibly empty) query per day. All of one day's
 * writes share a GSI partition: on AWS a bulk load of more than about 1,000 records/s
 * into one day can throttle the index (and with it the table's writes) for a while.
 * Reads from a GSI are eventually consistent: a record written in the last moment before
 * an export may appear in the next incremental one.
 */
export const UPDATED_INDEX = 'upd';
const DAY_MS = 86_400_000;

export function updatedIndexDefinition(): { attributes: AttributeDefinition[]; index: GlobalSecondaryIndex } {
  return {
    attributes: [
      { AttributeName: DAY_ATTR, AttributeType: 'S' },
      { AttributeName: SORT_ATTR, AttributeType: 'S' },
    ],
    index: {
      IndexName: UPDATED_INDEX,
      KeySchema: [
        { AttributeName: DAY_ATTR, KeyType: 'HASH' },
        { AttributeName: SORT_ATTR, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  };
}

/** 409 indexes_unavailable for a table made before the write-time index existed. */
export async function assertUpdatedIndex(client: DynamoDBClient, table: string): Promise<void> {
  const out = await guard(() => client.send(new DescribeTableCommand({ TableName: table })));
  if (!(out.Table?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === UPDATED_INDEX)) throw errors.indexesUnavailable(table);
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** [day, lower bound of the sort key] of the next read. */
function positionOf(query: UpdatedSinceQuery): [string, string] {
  if (query.after === undefined) return [query.since.slice(0, 10), query.since];
  try {
    const parsed: unknown = JSON.parse(query.after);
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) return parsed as [string, string];
  } catch {
    // fall through
  }
  throw errors.invalidCursor();
}

export async function queryDynamoUpdatedSince(
  client: DynamoDBClient,
  table: string,
  query: UpdatedSinceQuery,
  now: number = Date.now(),
): Promise<RecordPage> {
  let [day, from] = positionOf(query);
  // A day past today guards against a writer whose clock runs ahead of this one.
  const lastDay = dayOf(now + DAY_MS);
  const items: StoredRecord[] = [];
  while (day <= lastDay) {
    const out = await guard(() =>
      client.send(
        new QueryCommand({
          TableName: table,
          IndexName: UPDATED_INDEX,
          // A key condition may not compare with an empty string: a whole day is read without one.
          ...(from === ''
            ? { KeyConditionExpression: '#d = :d', ExpressionAttributeNames: { '#d': DAY_ATTR }, ExpressionAttributeValues: { ':d': { S: day } } }
            : {
                KeyConditionExpression: '#d = :d AND #s >= :s',
                ExpressionAttributeNames: { '#d': DAY_ATTR, '#s': SORT_ATTR },
                ExpressionAttributeValues: { ':d': { S: day }, ':s': { S: from } },
              }),
          Limit: query.limit - items.length,
        }),
      ),
    );
    const page = (out.Items ?? []).map(fromItem);
    items.push(...page);
    const last = page.at(-1);
    if (out.LastEvaluatedKey !== undefined && last !== undefined) {
      // The next read starts just past the last row: NUL sorts before every other character.
      from = `${last.ingestedAt}${SEPARATOR}${last.id}${SEPARATOR}`;
      if (items.length >= query.limit) return { items, lastId: JSON.stringify([day, from]) };
      continue;
    }
    day = dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
    from = '';
    if (items.length >= query.limit) return day <= lastDay ? { items, lastId: JSON.stringify([day, from]) } : { items };
  }
  return { items };
}
