import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { IndexEntry, KeyedParts, StoredRecord } from '../../domain/model.js';
import { indexAttributes, updatedAttributes } from './dynamo-index-keys.js';

type Item = Record<string, AttributeValue>;

// Short attribute names: DynamoDB counts names towards the 400 KB item limit.
export function toItem(record: StoredRecord): Item {
  const item: Item = {
    id: { S: record.id },
    d: { S: record.data },
    s: { S: record.source },
    t: { S: record.ingestedAt },
    ...updatedAttributes(record),
  };
  const keyed = record.keyed;
  if (keyed !== undefined) {
    item.k = { S: keyed.key };
    item.v = { N: String(keyed.version) };
    item.r = { N: String(keyed.revision) };
    item.c = { S: keyed.createdAt };
    item.p = { S: keyed.provenance };
    item.a = { S: keyed.applied };
    item.mv = { N: String(keyed.modelVersion) };
    item.x = { S: JSON.stringify(keyed.index) };
    for (const entry of keyed.index) Object.assign(item, indexAttributes(entry, record.id));
  }
  return item;
}

export function fromItem(item: Item): StoredRecord {
  const record: StoredRecord = {
    id: item.id?.S ?? '',
    data: item.d?.S ?? 'null',
    source: item.s?.S ?? '{}',
    ingestedAt: item.t?.S ?? '',
  };
  if (item.k?.S !== undefined) {
    const keyed: KeyedParts = {
      key: item.k.S,
      version: Number(item.v?.N ?? 0),
      revision: Number(item.r?.N ?? 0),
      createdAt: item.c?.S ?? '',
      provenance: item.p?.S ?? '{}',
      applied: item.a?.S ?? '{}',
      modelVersion: Number(item.mv?.N ?? 0),
      index: JSON.parse(item.x?.S ?? '[]') as IndexEntry[],
    };
    record.keyed = keyed;
  }
  return record;
}
