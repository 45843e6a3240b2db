import { parseStoredJson } from '../../domain/json-text.js';
import type { RecordCleaner } from '../../quality/record-cleaner.js';
import { decimalText, deterministicId, fileRowId, fileRowIdPrefix } from '../../domain/ids.js';
import type { JobItem } from '../../domain/model.js';
import { buildRecord } from '../../domain/record-builder.js';
import type { ParsedRecordRow } from './parse-rows.js';
import type { FileRecord } from './record-steps.js';
import { passOn, rejectRow, skipRow, type RowRejected, type StepOutcome } from './step-outcome.js';

/** What every record of one pass shares: its file, its job and one ingestion time. */
export interface FileRecordOrigin {
  /** The first characters of every row id of the file (see fileRowId), or, for a job created before ordered ids, its file id. */
  idPrefix: string;
  orderedIds: boolean;
  /** The source JSON up to the row number, built once per pass rather than per row. */
  sourcePrefix: string;
  ingestedAt: string;
  /** The project's compiled cleaning rules and schema, when its model declares any. */
  cleaner?: RecordCleaner;
}

export function fileRecordOrigin(job: JobItem, ingestedAt: string, cleaner?: RecordCleaner): FileRecordOrigin {
  const sourcePrefix = `{"type":"file","fileId":${JSON.stringify(job.fileId)},"jobId":${JSON.stringify(job.id)},"fileName":${JSON.stringify(job.fileName)},"row":`;
  const orderedIds = job.rowIds === 'ordered';
  return { idPrefix: orderedIds ? fileRowIdPrefix(job.fileId) : job.fileId, orderedIds, sourcePrefix, ingestedAt, ...(cleaner ? { cleaner } : {}) };
}

/**
 * Step "row to record": the stored record of a parsed row, through the record builder the
 * push path uses too. Its id derives from (file, row) alone, so every pass over the same
 * bytes writes the same items and a resumed job never stores a row twice.
 */
export function rowToRecord(row: ParsedRecordRow, origin: FileRecordOrigin): StepOutcome<FileRecord> {
  let body: { jsonText: string } | { value: unknown } = { jsonText: row.data };
  let value: Record<string, unknown> | undefined;
  if (origin.cleaner !== undefined) {
    const cleaned = cleanRow(row, origin.cleaner);
    if (cleaned.kind !== 'ok') return cleaned;
    value = cleaned.value;
    body = { value };
  }
  const built = buildRecord({
    id: origin.orderedIds ? fileRowId(origin.idPrefix, row.row) : deterministicId('row', origin.idPrefix, row.row),
    body,
    source: `${origin.sourcePrefix}${decimalText(row.row)}}`,
    ingestedAt: origin.ingestedAt,
  });
  if (!built.ok) return rejectRow(row.row, built.code, built.message);
  return passOn(value === undefined ? { row: row.row, record: built.record } : { row: row.row, record: built.record, value });
}

/**
 * The cleaning rules and the schema on a row, before it is keyed and stored: the row's
 * text is parsed here once (numbers exactly as written) and printed once by the record
 * builder. A refused row keeps its text as it arrived, for the quarantine.
 *
 * A row's text is the parsers' own printing (CSV cells under de-duplicated headers, or a
 * JSON/XML value printed again), depth-bounded by the parser: it repeats no key, as the
 * stored data does, so it is read the way stored data is: JSON.parse when it holds no
 * number token, the exact parser otherwise (a CSV row, all strings, is nearly always the first).
 */
function cleanRow(row: ParsedRecordRow, cleaner: RecordCleaner): StepOutcome<Record<string, unknown>> {
  const value: unknown = parseStoredJson(row.data);
  // A row that is not an object is the record builder's to refuse, as without rules.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return passOn(value as Record<string, unknown>);
  const outcome = cleaner.clean(value as Record<string, unknown>);
  if (outcome.kind === 'clean') return passOn(outcome.record);
  if (outcome.kind === 'skipped') return skipRow(row.row);
  const { reason } = outcome;
  const rejected: RowRejected = rejectRow(row.row, reason.code, reason.message);
  rejected.rejection.rule = reason.rule;
  rejected.rejection.field = reason.field;
  if (reason.step !== undefined) rejected.rejection.step = reason.step;
  rejected.raw = row.data;
  return rejected;
}
