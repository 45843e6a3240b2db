import type { OpenedFile, ParsedRow } from '../parsers/types.js';
import { FileRejectedError } from '../parsers/types.js';
import { failJob, passOn, rejectRow, type StepOutcome } from './step-outcome.js';

export type ParsedRecordRow = Extract<ParsedRow, { ok: true }>;

/**
 * Step "parse rows": the file's rows as outcomes. A row the parser refused is a row
 * rejection; a whole-file failure (a record too large, broken gzip, malformed JSON...)
 * comes last, after every row before it, as a job failure. Aborts and stream errors are
 * thrown: they say nothing about the file, and the job is tried again.
 */
export async function* parseRows(file: OpenedFile, signal: AbortSignal): AsyncGenerator<StepOutcome<ParsedRecordRow>> {
  try {
    for await (const row of file.rows) {
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      yield row.ok ? passOn(row) : rejectRow(row.row, row.code, row.message);
    }
  } catch (error) {
    if (!(error instanceof FileRejectedError)) throw error;
    yield failJob(error.code, error.message);
  }
}
