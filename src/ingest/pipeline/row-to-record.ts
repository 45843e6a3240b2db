import { parseStoredJson } from '../../domain/json-text.js';
import type { RecordCleaner } from '../../quality/record-cleaner.js';
import { decimalText, deterministicId, fileRowId, fileRowIdPrefix } from '../../domain/ids.js';
import type { JobItem } from '../../domain/model.js';
import { buildRecord } from '../../domain/record-builder.js';
import type { CsvCells } from '../parsers/types.js';
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
  } else if (row.cells !== undefined) {
    // The object the text reads as, at the cost of a few property writes: the key step and
    // the field catalog take it rather than parsing the text (twice, in a keyed project).
    value = objectOfCells(row.cells);
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
 * A CSV row is built from its cells. Any other row's text is the parser's own printing of
 * a JSON/XML value, depth-bounded: it repeats no key, as the stored data does, so it is
 * read the way stored data is: JSON.parse when it holds no number token, the exact
 * parser otherwise.
 */
function cleanRow(row: ParsedRecordRow, cleaner: RecordCleaner): StepOutcome<Record<string, unknown>> {
  const value: unknown = row.cells === undefined ? parseStoredJson(row.data) : objectOfCells(row.cells);
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

/**
 * A CSV row as the object its text reads as: each header name (unique, the parser
 * renames repeats) to its cell, in order, several times cheaper than parsing the text.
 * `__proto__` is defined, not assigned, so it stays a data key as JSON.parse makes it.
 */
function objectOfCells({ names, values }: CsvCells): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === '__proto__') Object.defineProperty(out, name, { value: values[i], enumerable: true, writable: true, configurable: true });
    else out[name] = values[i];
  }
  return out;
}
