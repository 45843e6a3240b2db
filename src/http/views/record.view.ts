import type { StoredRecord } from '../../domain/model.js';

/**
 * A record as JSON text, assembled from stored JSON so that numbers keep every digit
 * (JSON.parse would round integers past 2^53).
 */
export function recordJson(record: StoredRecord): string {
  return `{"id":${JSON.stringify(record.id)},"data":${record.data},"source":${record.source},"ingestedAt":${JSON.stringify(record.ingestedAt)}}`;
}

/** A page of records as JSON text, for the same reason as recordJson. */
export function recordPageJson(records: readonly StoredRecord[], nextCursor: string | null): string {
  return `{"items":[${records.map(recordJson).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
}
