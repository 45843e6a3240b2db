import type { StoredRecord } from '../../domain/model.js';
import type { FileRecord } from './record-steps.js';

/** Rows per write: one BatchWriteItem call (DynamoDB takes at most 25 puts in one). */
export const BATCH_ROWS = 25;

/** Records waiting to be written together, and the last row among them. */
export interface Batch {
  records: StoredRecord[];
  lastRow: number;
}

export const emptyBatch = (): Batch => ({ records: [], lastRow: 0 });

/**
 * Step "batch": adds a record; the batch is written once it is full (or the file ends).
 * The records array grows in place: a batch is only ever handed on, never shared.
 */
export function addToBatch(batch: Batch, input: FileRecord): Batch {
  batch.records.push(input.record);
  return { records: batch.records, lastRow: input.row };
}

export const isBatchFull = (batch: Batch): boolean => batch.records.length >= BATCH_ROWS;
