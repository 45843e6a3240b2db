import { isPlainRecord, parseStoredJson, toJsonText } from './json-text.js';
import type { KeyedParts, StoredRecord } from './model.js';
import { MAX_ITEM_BYTES, recordTooLargeMessage, storedRecordSize } from './record-builder.js';
import { readProvenance, writeProvenance, type ProvenanceEntry } from './provenance.js';
import { indexEntriesOf, type KeyedModel } from './record-model.js';

/**
 * Merging writes into a customer's record. Pure functions: the record stores call
 * `applyKeyedChanges` with the record as they read it, and again with a fresh read when a
 * concurrent writer got there first, so the result never depends on a stale copy.
 */

/** One write for a customer: a pushed record or a file row, in order of arrival. */
export interface KeyedChange {
  id: string;
  key: Record<string, string>;
  /** The record as parsed (numbers exact); never changed here. */
  value: Record<string, unknown>;
  /** JSON text of where it came from. */
  source: string;
  at: string;
  /**
   * Its place in a replayable stream (a file's rows, an idempotent push's records): a change
   * at or before the stream's mark on the record was applied already and is skipped, so a
   * resumed file or a retried push never applies one row twice.
   */
  mark?: { stream: string; seq: number };
}

export type ChangeOutcome =
  | { status: 'created' | 'updated' | 'unchanged' }
  | { status: 'rejected'; code: 'record_too_large'; message: string };

/** Sources remembered per record for replay protection; the oldest are forgotten past this. */
export const MAX_APPLIED_MARKS = 64;

interface RecordState {
  data: Record<string, unknown>;
  dataText: string;
  source: string;
  updatedAt: string;
  provenance: Record<string, ProvenanceEntry>;
  applied: Record<string, number>;
}

function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // `__proto__` is an ordinary data key in a record: assigning it would set the prototype.
  // Every other key is assigned (defineProperty on each key cost a tenth of a merge).
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function copyOf<T>(source: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(source)) setOwn(out, key, source[key]!);
  return out;
}

/**
 * `merge`: the newer write's fields overwrite, fields it lacks are kept, nested objects merge
 * field by field, arrays are replaced, an explicit null clears the field. Never mutates.
 */
export function mergeData(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = copyOf(base);
  for (const key of Object.keys(patch)) {
    const next = patch[key];
    const prior = out[key];
    if (next === null) delete out[key];
    else if (isPlainRecord(next) && isPlainRecord(prior)) setOwn(out, key, mergeData(prior, next));
    else setOwn(out, key, next);
  }
  return out;
}

function stateOf(record: StoredRecord): RecordState {
  const keyed = record.keyed!;
  return {
    data: parseStoredJson(record.data),
    dataText: record.data,
    source: record.source,
    updatedAt: record.ingestedAt,
    provenance: readProvenance(keyed.provenance),
    applied: JSON.parse(keyed.applied) as Record<string, number>,
  };
}

function nextState(state: RecordState | null, change: KeyedChange, model: KeyedModel): RecordState {
  const entry = { source: change.source, at: change.at };
  let data: Record<string, unknown>;
  let provenance: Record<string, ProvenanceEntry>;
  if (state === null || model.merge === 'replace') {
    data = change.value;
    provenance = {};
    for (const key of Object.keys(change.value)) setOwn(provenance, key, entry);
  } else if (model.merge === 'merge') {
    data = mergeData(state.data, change.value);
    provenance = copyOf(state.provenance);
    for (const key of Object.keys(change.value)) {
      if (change.value[key] === null) delete provenance[key];
      else setOwn(provenance, key, entry);
    }
  } else {
    data = state.data;
    provenance = copyOf(state.provenance);
    for (const key of Object.keys(change.value)) {
      const prior = provenance[key];
      if (prior !== undefined) setOwn(provenance, key, { source: prior.source, at: prior.at, lastSeen: entry });
    }
  }
  const dataText = data === state?.data ? state.dataText : toJsonText(data);
  const changed = state === null || dataText !== state.dataText;
  const applied = copyOf(state?.applied ?? {});
  if (change.mark !== undefined) {
    // Re-inserted so the most recent marks are the last keys, and the oldest go first.
    delete applied[change.mark.stream];
    setOwn(applied, change.mark.stream, change.mark.seq);
    const streams = Object.keys(applied);
    for (let i = 0; i < streams.length - MAX_APPLIED_MARKS; i++) delete applied[streams[i]!];
  }
  return {
    data,
    dataText,
    source: changed ? change.source : state.source,
    updatedAt: changed ? change.at : state.updatedAt,
    provenance,
    applied,
  };
}

function recordOf(
  id: string,
  key: Record<string, string>,
  state: RecordState,
  current: StoredRecord | null,
  firstAt: string,
  model: KeyedModel,
  dataChanges: number,
): StoredRecord {
  const prior = current?.keyed;
  const keyed: KeyedParts = {
    key: prior?.key ?? JSON.stringify(key),
    version: (prior?.version ?? 0) + dataChanges,
    revision: (prior?.revision ?? 0) + 1,
    createdAt: prior?.createdAt ?? firstAt,
    provenance: writeProvenance(state.provenance),
    applied: JSON.stringify(state.applied),
    modelVersion: model.version,
    index: indexEntriesOf(state.data, model),
  };
  return { id, data: state.dataText, source: state.source, ingestedAt: state.updatedAt, keyed };
}

/**
 * Applies a customer's changes, in order, to the record as stored (or to nothing), and
 * returns the record to write, or null when nothing is to be written. `outcomes[i]` is set
 * for `changes[i]`. A change that would make the record too large is rejected alone.
 */
export function applyKeyedChanges(
  id: string,
  current: StoredRecord | null,
  changes: readonly KeyedChange[],
  model: KeyedModel,
  outcomes: ChangeOutcome[],
): StoredRecord | null {
  let state = current?.keyed === undefined ? null : stateOf(current);
  let record: StoredRecord | null = null;
  // Every change that alters the data counts, folded or not, so a record's version does
  // not depend on how its writes were batched.
  let dataChanges = 0;
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!;
    const mark = change.mark;
    if (mark !== undefined && state !== null && (state.applied[mark.stream] ?? -1) >= mark.seq) {
      outcomes[i] = { status: 'unchanged' };
      continue;
    }
    const next = nextState(state, change, model);
    const changed = state === null || next.dataText !== state.dataText;
    const candidate = recordOf(id, change.key, next, current, changes[0]!.at, model, dataChanges + (changed ? 1 : 0));
    if (storedRecordSize(candidate) > MAX_ITEM_BYTES) {
      outcomes[i] = { status: 'rejected', code: 'record_too_large', message: recordTooLargeMessage('the merged record', MAX_ITEM_BYTES) };
      continue;
    }
    outcomes[i] = { status: state === null ? 'created' : changed ? 'updated' : 'unchanged' };
    if (changed) dataChanges++;
    state = next;
    record = candidate;
  }
  return record;
}
