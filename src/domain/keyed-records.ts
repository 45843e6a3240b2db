import { isPlainRecord } from './json-text.js';
import type { ProjectItem } from './model.js';
import { MAX_ITEM_BYTES, recordTooLargeMessage } from './record-builder.js';
import { applyKeyedChanges, type ChangeOutcome, type KeyedChange } from './record-merge.js';
import { keyedRecordId, keyOfRecord, type KeyedModel } from './record-model.js';
import type { RecordStore } from '../storage/ports.js';

/**
 * The upsert path every source shares once a project has a customer key: a record becomes
 * a change for its customer's record (or a per-record rejection), and a batch of changes is
 * written with one read-merge-write per customer.
 */

export type KeyedRejectionCode = 'not_an_object' | 'record_too_large' | 'missing_key' | 'invalid_key';

export type KeyedChangeResult = { ok: true; change: KeyedChange } | { ok: false; code: KeyedRejectionCode; message: string };

export interface ChangeOrigin {
  /** JSON text of the source, as appended records carry it. */
  source: string;
  at: string;
  mark?: KeyedChange['mark'];
}

/** The change a record makes to its customer's record, or why it cannot make one. */
export function keyedChangeOf(project: ProjectItem, model: KeyedModel, value: unknown, dataBytes: number, origin: ChangeOrigin): KeyedChangeResult {
  if (!isPlainRecord(value)) return { ok: false, code: 'not_an_object', message: 'A record must be a JSON object.' };
  if (dataBytes > MAX_ITEM_BYTES) return { ok: false, code: 'record_too_large', message: recordTooLargeMessage('the record', MAX_ITEM_BYTES) };
  const key = keyOfRecord(value, model.key);
  if (!key.ok) return key;
  return {
    ok: true,
    change: { id: keyedRecordId(project.id, model, key.key), key: key.key, value, source: origin.source, at: origin.at, mark: origin.mark },
  };
}

/**
 * Writes changes in arrival order: those for one customer are folded into one write (so a
 * file with many rows per customer is not a storm of conflicting writes), and the outcome
 * of each change is returned in its place.
 */
export async function writeKeyedChanges(
  records: RecordStore,
  table: string,
  model: KeyedModel,
  changes: readonly KeyedChange[],
): Promise<ChangeOutcome[]> {
  const outcomes: ChangeOutcome[] = new Array<ChangeOutcome>(changes.length);
  const byId = new Map<string, number[]>();
  changes.forEach((change, i) => {
    const group = byId.get(change.id);
    if (group) group.push(i);
    else byId.set(change.id, [i]);
  });
  await records.upsertRecords(table, [...byId.keys()], (id, current) => {
    const positions = byId.get(id)!;
    const local: ChangeOutcome[] = [];
    const next = applyKeyedChanges(id, current, positions.map((i) => changes[i]!), model, local);
    // A store may merge again after a conflict: the last merge's outcomes are the ones that were written.
    positions.forEach((i, j) => (outcomes[i] = local[j]!));
    return next;
  });
  return outcomes;
}

export interface KeyedCounts {
  recordsCreated: number;
  recordsUpdated: number;
  recordsUnchanged: number;
}

export function countOutcomes(counts: KeyedCounts, outcomes: readonly ChangeOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.status === 'created') counts.recordsCreated++;
    else if (outcome.status === 'updated') counts.recordsUpdated++;
    else if (outcome.status === 'unchanged') counts.recordsUnchanged++;
  }
}
