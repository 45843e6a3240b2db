import type { RowError } from '../../domain/model.js';

/** Why a whole job failed: the code and message its outcome shows. */
export interface JobFailure {
  code: string;
  message: string;
}

/**
 * What a pipeline step did with its input: passed something on, rejected one row (the
 * job goes on and the row is counted and reported), or failed the whole job. A step
 * never drops a row silently: every row ends as a record or as a rejection with a reason.
 */
export type StepOutcome<T> = Passed<T> | RowRejected | RowSkipped | JobFailed;

export interface Passed<T> {
  kind: 'ok';
  value: T;
}

export interface RowRejected {
  kind: 'rejected';
  rejection: RowError;
  /** The row's JSON text as it arrived, when a cleaning step or the schema refused it (for the quarantine). */
  raw?: string;
}

/** A row a `filter` step left out on purpose: counted, neither stored nor an error. */
export interface RowSkipped {
  kind: 'skipped';
  row: number;
}

export interface JobFailed {
  kind: 'failed';
  failure: JobFailure;
}

export const passOn = <T>(value: T): Passed<T> => ({ kind: 'ok', value });

export const rejectRow = (row: number, code: string, message: string): RowRejected => ({
  kind: 'rejected',
  rejection: { row, code, message },
});

export const skipRow = (row: number): RowSkipped => ({ kind: 'skipped', row });

export const failJob = (code: string, message: string): JobFailed => ({ kind: 'failed', failure: { code, message } });
