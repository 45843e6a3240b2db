import { errors } from '../errors.js';
import { MAX_ITEM_BYTES, storedRecordSize } from '../domain/record-builder.js';
import type { StoredRecord } from '../domain/model.js';

/**
 * The item limit every record store enforces the same way, so the two modes cannot be told
 * apart: DynamoDB's 400 KB, counted as DynamoDB counts it. The services reject such a
 * record earlier with a per-record error; this is the store's own guarantee.
 */
export function assertStorableRecord(record: StoredRecord): void {
  const size = storedRecordSize(record);
  if (size > MAX_ITEM_BYTES) throw errors.recordTooLarge(record.id, size, MAX_ITEM_BYTES);
}
