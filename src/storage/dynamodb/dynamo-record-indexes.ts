import {
  DescribeTableCommand,
  QueryCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import type { IndexEntry } from '../../domain/model.js';
import { MAX_INDEXES } from '../../domain/record-model.js';
import { errors } from '../../errors.js';
import type { IndexQuery, RecordPage } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { firstCharacter, indexName, partitionAttr, SEPARATOR, sortAttr } from './dynamo-index-keys.js';
import { fromItem } from './dynamo-record-items.js';

/**
 * Secondary indexes of a project's records table. Every table is created with one sparse
 * global secondary index per slot (`ix0`..`ix9`); a record declares an indexed field's value
 * in that field's slot, and only records that carry the slot's attributes are in the index,
 * so unused slots cost nothing. Slots rather than one index per field name: adding an index
 * to a live table would need UpdateTable, which the task role is not granted (it could also
 * drop indexes or change billing), and a new GSI on a full table takes long to build.
 *
 * Key of slot n: partition `ix<n>p` = the value's first character, sort `ix<n>s` = the value,
 * NUL, the record id. Equality and prefix are both `begins_with` on the sort key within one
 * partition, in (value, id) order, as in the embedded store; the first character spreads a
 * field's values over many partitions.
 */

/** What CreateTable adds for the index slots. */
export function indexSlotDefinitions(): { attributes: AttributeDefinition[]; indexes: GlobalSecondaryIndex[] } {
  const attributes: AttributeDefinition[] = [];
  const indexes: GlobalSecondaryIndex[] = [];
  for (let slot = 0; slot < MAX_INDEXES; slot++) {
    attributes.push({ AttributeName: partitionAttr(slot), AttributeType: 'S' }, { AttributeName: sortAttr(slot), AttributeType: 'S' });
    indexes.push({
      IndexName: indexName(slot),
      KeySchema: [
        { AttributeName: partitionAttr(slot), KeyType: 'HASH' },
        { AttributeName: sortAttr(slot), KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    });
  }
  return { attributes, indexes };
}

/** Refuses, clearly, a table made before index slots existed (it would need a one-off migration). */
export async function assertIndexSlots(client: DynamoDBClient, table: string): Promise<void> {
  const out = await guard(() => client.send(new DescribeTableCommand({ TableName: table })));
  const present = new Set((out.Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  for (let slot = 0; slot < MAX_INDEXES; slot++) {
    if (!present.has(indexName(slot))) throw errors.indexesUnavailable(table);
  }
}

function decodePosition(after: string): [string, string] {
  try {
    const parsed: unknown = JSON.parse(after);
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string' && part.length > 0)) {
      return parsed as [string, string];
    }
  } catch {
    // fall through
  }
  throw errors.invalidCursor();
}

export async function queryDynamoIndex(client: DynamoDBClient, table: string, query: IndexQuery): Promise<RecordPage> {
  const { slot } = query;
  const text = 'equals' in query.match ? query.match.equals : query.match.prefix;
  const begins = 'equals' in query.match ? `${text}${SEPARATOR}` : text;
  const start = query.after === undefined ? undefined : decodePosition(query.after);
  const out = await guard(() =>
    client.send(
      new QueryCommand({
        TableName: table,
        IndexName: indexName(slot),
        KeyConditionExpression: '#p = :p AND begins_with(#s, :s)',
        ExpressionAttributeNames: { '#p': partitionAttr(slot), '#s': sortAttr(slot) },
        ExpressionAttributeValues: { ':p': { S: firstCharacter(text) }, ':s': { S: begins } },
        Limit: query.limit,
        ExclusiveStartKey:
          start === undefined
            ? undefined
            : {
                id: { S: start[1] },
                [partitionAttr(slot)]: { S: firstCharacter(start[0]) },
                [sortAttr(slot)]: { S: `${start[0]}${SEPARATOR}${start[1]}` },
              },
      }),
    ),
  );
  const items = (out.Items ?? []).map(fromItem).filter((record) => holdsMatch(record.keyed?.index ?? [], query));
  const last = out.LastEvaluatedKey?.[sortAttr(slot)]?.S;
  if (last === undefined) return { items };
  const cut = last.lastIndexOf(SEPARATOR);
  return { items, lastId: JSON.stringify([last.slice(0, cut), last.slice(cut + 1)]) };
}

/**
 * A slot may still hold entries of a field that was dropped from the model (until the
 * backfill rewrites them): an item counts only when its own entry for the slot is the
 * asked field's and matches.
 */
function holdsMatch(index: readonly IndexEntry[], query: IndexQuery): boolean {
  const entry = index.find((e) => e.slot === query.slot);
  if (entry === undefined || entry.field !== query.field) return false;
  return 'equals' in query.match ? entry.value === query.match.equals : entry.value.startsWith(query.match.prefix);
}
