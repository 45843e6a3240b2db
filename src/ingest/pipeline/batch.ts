import type { StoredRecord } from '../../domain/model.js';
import type { KeyedChange } from '../../domain/record-merge.js';
import type { FileRecord } from './record-steps.js';

/** Records waiting to be written together, and the last row among them. */
export interface Batch {
  records: StoredRecord[];
  lastRow: number;
  /** Each record's data as an object where a step had one (FileRecord.value), by index; absent when none did. */
  values?: (Record<string, unknown> | undefined)[];
  /** Keyed projects: each record's change and its row, in row order, folded per customer when written. */
  changes?: { change: KeyedChange; row: number }[];
}

export const emptyBatch = (): Batch => ({ records: [], lastRow: 0 });

/**
 * Step "batch": adds a record; the batch is written once it is full (or the file ends).
 * The records array grows in place: a batch is only ever handed on, never shared.
 */
export function addToBatch(batch: Batch, input: FileRecord): Batch {
  batch.records.push(input.record);
  let values = batch.values;
  if (input.value !== undefined || values !== undefined) {
    values ??= new Array<undefined>(batch.records.length - 1).fill(undefined);
    values.push(input.value);
  }
  const next: Batch = values === undefined ? { records: batch.records, lastRow: input.row } : { records: batch.records, lastRow: input.row, values };
  if (input.change === undefined) return next;
  const changes = batch.changes ?? [];
  changes.push({ change: input.change, row: input.row });
  next.changes = changes;
  return next;
}

/** Full at the record store's own batch size (one BatchWriteItem in DynamoDB, one transaction in SQLite). */
export const isBatchFull = (batch: Batch, size: number): boolean => batch.records.length >= size;
