import { decimalText, deterministicId, fileRowId, fileRowIdPrefix } from '../../domain/ids.js';
import type { JobItem } from '../../domain/model.js';
import { buildRecord } from '../../domain/record-builder.js';
import type { ParsedRecordRow } from './parse-rows.js';
import type { FileRecord } from './record-steps.js';
import { passOn, rejectRow, type StepOutcome } from './step-outcome.js';

/** What every record of one pass shares: its file, its job and one ingestion time. */
export interface FileRecordOrigin {
  /** The first characters of every row id of the file (see fileRowId), or, for a job created before ordered ids, its file id. */
  idPrefix: string;
  orderedIds: boolean;
  /** The source JSON up to the row number, built once per pass rather than per row. */
  sourcePrefix: string;
  ingestedAt: string;
}

export function fileRecordOrigin(job: JobItem, ingestedAt: string): FileRecordOrigin {
  const sourcePrefix = `{"type":"file","fileId":${JSON.stringify(job.fileId)},"jobId":${JSON.stringify(job.id)},"fileName":${JSON.stringify(job.fileName)},"row":`;
  const orderedIds = job.rowIds === 'ordered';
  return { idPrefix: orderedIds ? fileRowIdPrefix(job.fileId) : job.fileId, orderedIds, sourcePrefix, ingestedAt };
}

/**
 * Step "row to record": the stored record of a parsed row, through the record builder the
 * push path uses too. Its id derives from (file, row) alone, so every pass over the same
 * bytes writes the same items and a resumed job never stores a row twice.
 */
export function rowToRecord(row: ParsedRecordRow, origin: FileRecordOrigin): StepOutcome<FileRecord> {
  const built = buildRecord({
    id: origin.orderedIds ? fileRowId(origin.idPrefix, row.row) : deterministicId('row', origin.idPrefix, row.row),
    body: { jsonText: row.data },
    source: `${origin.sourcePrefix}${decimalText(row.row)}}`,
    ingestedAt: origin.ingestedAt,
  });
  return built.ok ? passOn({ row: row.row, record: built.record }) : rejectRow(row.row, built.code, built.message);
}
