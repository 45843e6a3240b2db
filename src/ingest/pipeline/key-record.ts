import { parseJsonExact } from '../../domain/json-text.js';
import { keyedChangeOf } from '../../domain/keyed-records.js';
import type { JobItem, ProjectItem } from '../../domain/model.js';
import type { KeyedModel } from '../../domain/record-model.js';
import type { RecordStep } from './record-steps.js';
import { passOn, rejectRow } from './step-outcome.js';

/** File rows were checked against the depth limit by their parser; this only bounds recursion. */
const ROW_DEPTH = 1000;

/**
 * Step "key" of a keyed project: the row's change to its customer's record, or a row
 * rejection (`missing_key`, `invalid_key`). The change is marked with the file and the row,
 * so a resumed pass that writes a row again after a crash changes nothing the second time.
 */
export function keyRecordStep(project: ProjectItem, model: KeyedModel, job: Pick<JobItem, 'fileId'>): RecordStep {
  const stream = `file:${job.fileId}`;
  return (input) => {
    const { record, row } = input;
    const value = parseJsonExact(record.data, ROW_DEPTH);
    const made = keyedChangeOf(project, model, value, Buffer.byteLength(record.data), {
      source: record.source,
      at: record.ingestedAt,
      mark: { stream, seq: row },
    });
    return made.ok ? passOn({ ...input, change: made.change }) : rejectRow(row, made.code, made.message);
  };
}
