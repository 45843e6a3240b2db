import { isPlainRecord, toJsonText } from './json-text.js';
import type { StoredRecord } from './model.js';

/** DynamoDB's item size limit; a record whose stored item would exceed it is rejected alone. */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Size DynamoDB counts for a stored record: attribute names plus UTF-8 values. Exact for
 * appended records; for a customer's record an upper bound (numbers counted at their
 * longest, each index's two key attributes included).
 */
export function storedRecordSize(record: StoredRecord): number {
  const base =
    2 + Buffer.byteLength(record.id) +
    1 + Buffer.byteLength(record.data) +
    1 + Buffer.byteLength(record.source) +
    1 + Buffer.byteLength(record.ingestedAt) +
    // The write-time index's key attributes: the day (`ud`) and `time NUL id` (`us`).
    2 + 10 + 2 + Buffer.byteLength(record.ingestedAt) + 1 + Buffer.byteLength(record.id);
  return record.keyed === undefined ? base : base + keyedPartsSize(record.keyed, record.id);
}

const NUMBER_BYTES = 22;
/** Per indexed value: two attribute names of 16 bytes, a first character, a separator and the id. */
const INDEX_ENTRY_OVERHEAD = 16 + 4 + 16 + 1;

function keyedPartsSize(keyed: NonNullable<StoredRecord['keyed']>, id: string): number {
  let size =
    1 + Buffer.byteLength(keyed.key) +
    1 + NUMBER_BYTES + 1 + NUMBER_BYTES + 2 + NUMBER_BYTES +
    1 + Buffer.byteLength(keyed.createdAt) +
    1 + Buffer.byteLength(keyed.provenance) +
    1 + Buffer.byteLength(keyed.applied) +
    1 + Buffer.byteLength(JSON.stringify(keyed.index));
  for (const entry of keyed.index) {
    size += INDEX_ENTRY_OVERHEAD + Buffer.byteLength(entry.value) + Buffer.byteLength(id);
  }
  return size;
}

/**
 * The one wording of `record_too_large`, whether a parser meets an element, line or row
 * past the limit or a built record would not fit in one item: senders see one message
 * whichever way the record came in.
 */
export function recordTooLargeMessage(what: string, limit: number): string {
  return `${what} is larger than the record size limit of ${limit} bytes`;
}

/**
 * A record as its reader hands it over: the parsed value (pushes), or the exact JSON text
 * of one object when a file parser has already written it, so file rows are not parsed a
 * second time only to be printed again.
 */
export type RecordBody = { value: unknown } | { jsonText: string };

export interface RecordInput {
  id: string;
  body: RecordBody;
  /** JSON text of where the record came from. */
  source: string;
  ingestedAt: string;
}

export type RecordRejectionCode = 'not_an_object' | 'record_too_large';

export type BuiltRecord =
  | { ok: true; record: StoredRecord }
  | { ok: false; code: RecordRejectionCode; message: string };

const OPEN_BRACE = 0x7b;

/**
 * Builds the item stored for one record, for pushes and file rows alike, so that every
 * rule about what a record may be is applied in one place for both ways in.
 */
export function buildRecord(input: RecordInput): BuiltRecord {
  const data = recordDataText(input.body);
  if (data === undefined) return { ok: false, code: 'not_an_object', message: 'A record must be a JSON object.' };
  const record: StoredRecord = { id: input.id, data, source: input.source, ingestedAt: input.ingestedAt };
  if (storedRecordSize(record) > MAX_ITEM_BYTES) {
    return { ok: false, code: 'record_too_large', message: recordTooLargeMessage('the record', MAX_ITEM_BYTES) };
  }
  return { ok: true, record };
}

/** The record's JSON text, or undefined when it is not an object. */
function recordDataText(body: RecordBody): string | undefined {
  if ('jsonText' in body) return body.jsonText.charCodeAt(0) === OPEN_BRACE ? body.jsonText : undefined;
  return isPlainRecord(body.value) ? toJsonText(body.value) : undefined;
}
