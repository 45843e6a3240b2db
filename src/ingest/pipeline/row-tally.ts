import type { JobProgress, RowError } from '../../domain/model.js';
import { MAX_INLINE_ERRORS } from '../jobs.js';
import type { ErrorReport } from './error-report.js';

/** The counts of one pass over a file's rows. */
export interface RowTally {
  rowsRead: number;
  rowsRejected: number;
  rowsSkipped: number;
  /** Rows stored by an earlier pass (at or before the checkpoint): counted, not written again. */
  recordsResumed: number;
  /** The first row errors, shown on the job; every one goes to the error report. */
  errors: RowError[];
}

export const newRowTally = (): RowTally => ({ rowsRead: 0, rowsRejected: 0, rowsSkipped: 0, recordsResumed: 0, errors: [] });

/** Counts a rejected row and records its reason on the job and in the error report. */
export function countRejection(tally: RowTally, report: ErrorReport, rejection: RowError): void {
  tally.rowsRejected++;
  const error: RowError = { row: rejection.row, code: rejection.code, message: rejection.message.slice(0, 500) };
  if (rejection.step !== undefined) error.step = rejection.step;
  if (rejection.rule !== undefined) error.rule = rejection.rule;
  if (rejection.field !== undefined) error.field = rejection.field;
  if (tally.errors.length < MAX_INLINE_ERRORS) tally.errors.push(error);
  report.add(error);
}

/** Where a pass stands, as the job stores it. */
export interface PassPosition {
  format: JobProgress['format'];
  bytesRead: number;
  /** Records of writes that have finished. */
  recordsStored: number;
  /** Every row up to here is stored. */
  storedThrough: number;
  notices: readonly string[];
}

export function progressOf(tally: RowTally, position: PassPosition): JobProgress {
  return {
    format: position.format,
    bytesRead: position.bytesRead,
    rowsRead: tally.rowsRead,
    recordsWritten: tally.recordsResumed + position.recordsStored,
    rowsRejected: tally.rowsRejected,
    ...(tally.rowsSkipped === 0 ? {} : { rowsSkipped: tally.rowsSkipped }),
    checkpointRow: position.storedThrough,
    errors: [...tally.errors],
    notices: [...position.notices],
  };
}
