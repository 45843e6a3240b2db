import { provenanceJson } from '../../domain/provenance.js';
import type { StoredRecord } from '../../domain/model.js';

export interface RecordViewOptions {
  /** Adds, per top-level field, the source that last set it and when (customer records only). */
  provenance?: boolean;
}

/**
 * A record as JSON text, assembled from stored JSON so that numbers keep every digit
 * (JSON.parse would round integers past 2^53). An appended record reads back as
 * `{id, data, source, ingestedAt}`; a customer's record (keyed project) as
 * `{id, key, data, version, createdAt, updatedAt, source}`.
 */
export function recordJson(record: StoredRecord, options: RecordViewOptions = {}): string {
  const keyed = record.keyed;
  if (keyed === undefined) {
    return `{"id":${JSON.stringify(record.id)},"data":${record.data},"source":${record.source},"ingestedAt":${JSON.stringify(record.ingestedAt)}}`;
  }
  const provenance = options.provenance === true ? `,"provenance":${provenanceJson(keyed.provenance)}` : '';
  return (
    `{"id":${JSON.stringify(record.id)},"key":${keyed.key},"data":${record.data},"version":${keyed.version},` +
    `"createdAt":${JSON.stringify(keyed.createdAt)},"updatedAt":${JSON.stringify(record.ingestedAt)},"source":${record.source}${provenance}}`
  );
}

/** A page of records as JSON text, for the same reason as recordJson. */
export function recordPageJson(records: readonly StoredRecord[], nextCursor: string | null, options: RecordViewOptions = {}): string {
  return `{"items":[${records.map((record) => recordJson(record, options)).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
}
