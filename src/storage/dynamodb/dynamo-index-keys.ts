import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { IndexEntry, StoredRecord } from '../../domain/model.js';

/** Names and key values of the index slots (see dynamo-record-indexes.ts). */
export const SEPARATOR = '\u0000';

export const partitionAttr = (slot: number) => `ix${slot}p`;
export const sortAttr = (slot: number) => `ix${slot}s`;
export const indexName = (slot: number) => `ix${slot}`;
export const firstCharacter = (value: string) => String.fromCodePoint(value.codePointAt(0)!);

export function indexAttributes(entry: IndexEntry, id: string): Record<string, AttributeValue> {
  return {
    [partitionAttr(entry.slot)]: { S: firstCharacter(entry.value) },
    [sortAttr(entry.slot)]: { S: `${entry.value}${SEPARATOR}${id}` },
  };
}

/** The write-time index's key attributes (see dynamo-updated-index.ts). */
export const DAY_ATTR = 'ud';
export const SORT_ATTR = 'us';

/** The item attributes that place a record in the write-time index. */
export function updatedAttributes(record: StoredRecord): Record<string, AttributeValue> {
  return { [DAY_ATTR]: { S: record.ingestedAt.slice(0, 10) }, [SORT_ATTR]: { S: `${record.ingestedAt}${SEPARATOR}${record.id}` } };
}
