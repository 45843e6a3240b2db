import { parseStoredJson } from '../../domain/json-text.js';
import { keyedChangeOf } from '../../domain/keyed-records.js';
import type { JobItem, ProjectItem } from '../../domain/model.js';
import type { KeyedModel } from '../../domain/record-model.js';
import type { RecordStep } from './record-steps.js';
import { passOn, rejectRow } from './step-outcome.js';

/**
 * Step "key" of a keyed project: the row's change to its customer's record, or a row
 * rejection (`missing_key`, `invalid_key`). The change is marked with the file and the row,
 * so a resumed pass that writes a row again after a crash changes nothing the second time.
 * The row's object is the one an earlier step made, else its data read as stored data is
 * (the parser's or the record builder's printing: depth-bounded, no key repeated); it is
 * passed on, so the field catalog counts it without reading the text again.
 */
export function keyRecordStep(project: ProjectItem, model: KeyedModel, job: Pick<JobItem, 'fileId'>): RecordStep {
  const stream = `file:${job.fileId}`;
  return (input) => {
    const { record, row } = input;
    const value: unknown = input.value ?? parseStoredJson(record.data);
    const made = keyedChangeOf(project, model, value, Buffer.byteLength(record.data), {
      source: record.source,
      at: record.ingestedAt,
      mark: { stream, seq: row },
    });
    return made.ok ? passOn({ ...input, value: made.change.value, change: made.change }) : rejectRow(row, made.code, made.message);
  };
}
