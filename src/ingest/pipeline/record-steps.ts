import type { StoredRecord } from '../../domain/model.js';
import type { KeyedChange } from '../../domain/record-merge.js';
import { passOn, type StepOutcome } from './step-outcome.js';

/** A record of a file on its way to storage, with the row it came from. */
export interface FileRecord {
  row: number;
  record: StoredRecord;
  /**
   * The record's data as an object, when one is at hand (a CSV row's cells, the cleaning
   * rules' output, the key step's reading; the data is its printing): later steps and the
   * field catalog take it without parsing the text again. A step that changes
   * `record.data` must leave it out.
   */
  value?: Record<string, unknown>;
  /** In a keyed project, the change the row makes to its customer's record (set by the key step). */
  change?: KeyedChange;
}

/**
 * One step of the record model (clean rules, schema validation, customer key...): takes a
 * record and passes it on, changed or not, or rejects its row with a reason. Steps run
 * in order between "row to record" and "batch", for every row, resumed ones included, so
 * a resumed job rejects exactly the rows the first pass rejected.
 */
export type RecordStep = (input: FileRecord) => StepOutcome<FileRecord>;

export function applyRecordSteps(steps: readonly RecordStep[], input: FileRecord): StepOutcome<FileRecord> {
  let outcome: StepOutcome<FileRecord> = passOn(input);
  for (const step of steps) {
    if (outcome.kind !== 'ok') break;
    outcome = step(outcome.value);
  }
  return outcome;
}
