import { readProvenance } from './provenance.js';
import { createHash } from 'node:crypto';
import type { ProjectItem, StoredRecord } from './model.js';
import type { ControlStore, RecordLinesPage, RecordPage, RecordStore } from '../storage/ports.js';
import { deterministicId, newRecordId } from './ids.js';
import { AppError, errors } from '../errors.js';
import {
  decodeUtf8, isPlainRecord, parseJsonExact, parseRecordJson, parseStoredJson, RECORD_PARSE_CODES, splitJsonArrayText, toJsonText,
} from './json-text.js';
import { countOutcomes, keyedChangeOf, writeKeyedChanges, type KeyedCounts } from './keyed-records.js';
import { buildRecord } from './record-builder.js';
import type { KeyedChange } from './record-merge.js';
import { isKeyed, keyedRecordId, keyOfRecord, normalizeKeyValue, type KeyedModel } from './record-model.js';
import { cleanerOf, type RecordCleaner } from '../quality/record-cleaner.js';
import { fieldTallyFor } from '../quality/catalog/field-tally.js';
import { driftOf, type JobDrift } from '../quality/catalog/file-field-catalog.js';

// Kept here too for callers that knew them as the push path's.
export { MAX_ITEM_BYTES, storedRecordSize } from './record-builder.js';

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export type PushContentType = 'json' | 'ndjson';

export interface RecordError {
  index: number;
  code: string;
  message: string;
  /** Set when a cleaning step (`step`, `rule`, `field`) or the schema (`rule`, `field`) refused the record. */
  step?: number;
  rule?: string;
  field?: string;
}

export type RecordStatus = 'created' | 'updated' | 'unchanged';

export interface PushResult {
  accepted: number;
  rejected: number;
  /** `status` only on a keyed project, where every record is an upsert. */
  records: { index: number; id: string; status?: RecordStatus }[];
  errors: RecordError[];
  /** With cleaning rules: the indexes of records a `filter` step left out (neither stored nor errors). */
  skipped?: number[];
  /** Drift, as a job reports it: stored fields the field catalog did not know, known fields with a new type. */
  newFields?: JobDrift['newFields'];
  typeChanges?: JobDrift['typeChanges'];
}

/** What an erase removed: counts only, never the erased values. */
export interface ErasedCustomer {
  recordId: string;
  fieldsErased: number;
  tracesRemoved: { provenanceEntries: number; appliedMarks: number; idempotencyClaims: number; quarantineEntries: number };
}

const STORED_DEPTH = 1000;

/**
 * Drift goes in the answer of a push without an Idempotency-Key. A retry of an idempotent
 * push must answer as the first attempt did, and the first attempt's drift is not kept
 * (the catalog knows the fields by then): those pushes report drift in the metric and the
 * alert only.
 */
function answerDrift(result: PushResult, input: Pick<PushInput, 'idempotencyKey'>, drift: JobDrift): void {
  if (input.idempotencyKey === undefined) Object.assign(result, drift);
}

/** A keyed project's answer adds how many customers' records were created, changed or left alone. */
export type KeyedPushResult = PushResult & KeyedCounts;

export interface PushInput {
  project: ProjectItem;
  body: Buffer;
  contentType: PushContentType;
  idempotencyKey?: string;
  source: { keyId: string; requestId: string };
}

export interface RecordFilter {
  field: string;
  match: { equals: string } | { prefix: string };
  /** The filter as text, binding a listing's cursors to it. */
  scope: string;
}

export interface RecordLimits {
  maxRecordsPerRequest: number;
  maxJsonDepth: number;
}

interface Candidate {
  index: number;
  value?: unknown;
  error?: RecordError;
  /** Left out by a `filter` cleaning step. */
  skipped?: boolean;
  /** The record's JSON text as sent, kept when the cleaning rules or the schema refused it. */
  raw?: string;
}

/**
 * Pushed records: each one is validated on its own, stored with a deterministic id when
 * the request carries an Idempotency-Key (so a retry rewrites the same items instead of
 * adding new ones), and read back with its data exactly as sent.
 */
export class RecordService {
  /** Told of a push that brought drift (metric and alert): once per field, when the catalog first learns it. */
  onFieldDrift?: (project: ProjectItem, drift: JobDrift) => void;

  constructor(
    private readonly records: RecordStore,
    private readonly control: ControlStore,
    private readonly limits: RecordLimits,
    private readonly now: () => number = Date.now,
  ) {}

  async push(input: PushInput): Promise<PushResult> {
    const text = decodeUtf8(input.body);
    const candidates = input.contentType === 'json' ? this.splitJson(text) : this.splitNdjson(text);
    if (candidates.length > this.limits.maxRecordsPerRequest) {
      throw errors.tooManyRecords(this.limits.maxRecordsPerRequest);
    }

    let ingestedAt = new Date(this.now()).toISOString();
    const idempotencyKey = input.idempotencyKey;
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
        throw errors.validation(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
      }
      const bodyHash = createHash('sha256').update(input.contentType).update('\0').update(input.body).digest('hex');
      const claim = await this.control.claimIdempotencyKey(input.project.id, idempotencyKey, {
        bodyHash,
        firstSeenAt: ingestedAt,
      });
      if (claim.bodyHash !== bodyHash) throw errors.idempotencyKeyReused();
      // A retry stores byte-identical items: same ids, same ingestion time.
      ingestedAt = claim.firstSeenAt;
    }

    const cleaner = cleanerOf(input.project.id, input.project.model);
    if (cleaner !== undefined) cleanCandidates(cleaner, candidates);
    const cleaned = cleaner === undefined ? {} : { skipped: candidates.filter((c) => c.skipped).map((c) => c.index) };

    if (isKeyed(input.project.model)) {
      return { ...(await this.upsert(input, input.project.model, candidates, ingestedAt)), ...cleaned };
    }

    const result: PushResult = { accepted: 0, rejected: 0, records: [], errors: [], ...cleaned };
    const toStore: StoredRecord[] = [];
    for (const candidate of candidates) {
      if (candidate.skipped) continue;
      if (candidate.error) {
        result.errors.push(candidate.error);
        continue;
      }
      const id =
        idempotencyKey === undefined ? newRecordId() : deterministicId('push', idempotencyKey, candidate.index);
      const built = buildRecord({
        id,
        body: { value: candidate.value },
        // A retried idempotent request must store byte-identical items, so its source names
        // the Idempotency-Key rather than the retry's own request id.
        source: JSON.stringify(
          idempotencyKey === undefined
            ? { type: 'api', keyId: input.source.keyId, requestId: input.source.requestId, index: candidate.index }
            : { type: 'api', keyId: input.source.keyId, idempotencyKey, index: candidate.index },
        ),
        ingestedAt,
      });
      if (!built.ok) {
        result.errors.push({ index: candidate.index, code: built.code, message: built.message });
        continue;
      }
      toStore.push(built.record);
      result.records.push({ index: candidate.index, id });
    }
    await this.records.putRecords(input.project.tableName, toStore);
    answerDrift(result, input, await this.catalogStored(input.project, toStore.map((record) => record.data), 'text'));
    result.accepted = result.records.length;
    result.rejected = result.errors.length;
    return result;
  }

  /**
   * A keyed project's push: each record is a change to its customer's record, applied in
   * body order (several records of one customer fold into one write). With an
   * Idempotency-Key each change is marked with the key and its index, so a retry applies
   * nothing twice, even where the first attempt stopped half-way.
   */
  private async upsert(input: PushInput, model: KeyedModel, candidates: Candidate[], at: string): Promise<KeyedPushResult> {
    const result: KeyedPushResult = {
      accepted: 0, rejected: 0, recordsCreated: 0, recordsUpdated: 0, recordsUnchanged: 0, records: [], errors: [],
    };
    const { idempotencyKey } = input;
    const changes: KeyedChange[] = [];
    const indexes: number[] = [];
    const values: unknown[] = [];
    for (const candidate of candidates) {
      if (candidate.skipped) continue;
      if (candidate.error) {
        result.errors.push(candidate.error);
        continue;
      }
      const { index, value } = candidate;
      const source = JSON.stringify(
        idempotencyKey === undefined
          ? { type: 'api', keyId: input.source.keyId, requestId: input.source.requestId, index }
          : { type: 'api', keyId: input.source.keyId, idempotencyKey, index },
      );
      const bytes = isPlainRecord(value) ? Buffer.byteLength(toJsonText(value)) : 0;
      const made = keyedChangeOf(input.project, model, value, bytes, {
        source,
        at,
        mark: idempotencyKey === undefined ? undefined : { stream: `push:${idempotencyKey}`, seq: index },
      });
      if (!made.ok) {
        result.errors.push({ index, code: made.code, message: made.message });
        continue;
      }
      changes.push(made.change);
      indexes.push(index);
      values.push(value);
    }
    const outcomes = await writeKeyedChanges(this.records, input.project.tableName, model, changes);
    outcomes.forEach((outcome, i) => {
      const index = indexes[i]!;
      if (outcome.status === 'rejected') result.errors.push({ index, code: outcome.code, message: outcome.message });
      else result.records.push({ index, id: changes[i]!.id, status: outcome.status });
    });
    countOutcomes(result, outcomes);
    answerDrift(result, input, await this.catalogStored(input.project, values.filter((_, i) => outcomes[i]!.status !== 'rejected'), 'value'));
    result.errors.sort((a, b) => a.index - b.index);
    result.accepted = result.records.length;
    result.rejected = result.errors.length;
    return result;
  }

  /**
   * The push's stored records, cleaned, into the project's field catalog: one merge per
   * request, never a write per record. Answers the push's drift.
   */
  private async catalogStored(project: ProjectItem, stored: readonly unknown[], as: 'text' | 'value'): Promise<JobDrift> {
    if (stored.length === 0) return {};
    const tally = fieldTallyFor(project.model);
    for (const item of stored) {
      if (as === 'text') tally.addText(item as string);
      else tally.add(item);
    }
    const changes = await this.control.catalog.mergeFields(project.id, { fields: tally.take(), at: new Date(this.now()).toISOString() });
    const drift = driftOf(changes);
    if (drift.newFields !== undefined || drift.typeChanges !== undefined) this.onFieldDrift?.(project, drift);
    return drift;
  }

  async get(project: ProjectItem, id: string): Promise<StoredRecord> {
    // Ids are 26 characters; anything far longer cannot exist and is not worth a read.
    if (id.length === 0 || id.length > 128) throw errors.recordNotFound(id);
    const record = await this.records.getRecord(project.tableName, id);
    if (!record) throw errors.recordNotFound(id);
    return record;
  }

  /**
   * A customer's record by its key: one parameter per key field, normalized as writes are,
   * so `Alice@Example.com ` finds what `alice@example.com` stored. Other parameters named in
   * `allowed` (such as `provenance`) pass; anything else is refused.
   */
  async getByKey(project: ProjectItem, params: Record<string, unknown>, allowed: readonly string[] = []): Promise<StoredRecord> {
    const { id, key } = this.customerOf(project, params, allowed);
    const record = await this.records.getRecord(project.tableName, id);
    // The id is derived from the project and the key, and each project has its own table:
    // a key never finds another project's customer.
    if (!record) throw errors.recordNotFound(JSON.stringify(key));
    return record;
  }

  /** Removes one record (and, in the embedded store, its index entries). */
  async delete(project: ProjectItem, id: string): Promise<StoredRecord> {
    if (id.length === 0 || id.length > 128) throw errors.recordNotFound(id);
    const removed = await this.records.deleteRecord(project.tableName, id);
    if (!removed) throw errors.recordNotFound(id);
    return removed;
  }

  /**
   * Erases a customer by key: the record (its data, provenance and applied marks go with
   * it), the idempotency claims of the pushes that wrote it, and the quarantined rows that
   * carry the customer's key. A claim holds only a body hash, no value of the customer's; it
   * is removed so that nothing ties the key to the customer any more. A retried push is
   * then a new request and stores what it carries.
   */
  async eraseByKey(project: ProjectItem, params: Record<string, unknown>): Promise<ErasedCustomer> {
    const model = project.model;
    if (!isKeyed(model)) throw errors.eraseNeedsKey();
    const { id, key } = this.customerOf(project, params, []);
    const removed = await this.records.deleteRecord(project.tableName, id);
    const quarantineEntries = await this.eraseQuarantined(project, model, id);
    if (!removed && quarantineEntries === 0) throw errors.recordNotFound(JSON.stringify(key));
    const data = removed ? parseStoredJson(removed.data) : {};
    const provenance = removed?.keyed ? readProvenance(removed.keyed.provenance) : {};
    const applied = removed?.keyed ? (JSON.parse(removed.keyed.applied) as Record<string, number>) : {};
    const idempotencyKeys = new Set<string>();
    for (const stream of Object.keys(applied)) if (stream.startsWith('push:')) idempotencyKeys.add(stream.slice('push:'.length));
    const sources = [removed?.source, ...Object.values(provenance).flatMap((entry) => [entry.source, entry.lastSeen?.source])];
    for (const source of sources) {
      const key = idempotencyKeyOf(source);
      if (key !== undefined) idempotencyKeys.add(key);
    }
    const claims = await this.control.deleteIdempotencyClaims(project.id, [...idempotencyKeys]);
    return {
      recordId: id,
      fieldsErased: Object.keys(data).length,
      tracesRemoved: {
        provenanceEntries: Object.keys(provenance).length,
        appliedMarks: Object.keys(applied).length,
        idempotencyClaims: claims,
        quarantineEntries,
      },
    };
  }

  /**
   * Removes the project's quarantined rows whose key is the customer's: the quarantine is
   * kept by entry, not by customer, so its unexpired entries are read page by page (it is
   * bounded by its retention) and each row's key is derived as a write would derive it.
   */
  private async eraseQuarantined(project: ProjectItem, model: KeyedModel, id: string): Promise<number> {
    const quarantine = this.control.quarantine;
    let erased = 0;
    let after: string | undefined;
    do {
      const page = await quarantine.listEntries(project.id, { limit: 500, after, now: this.now() });
      for (const entry of page.items) {
        if (quarantinedCustomerId(project, model, entry.raw) === id && (await quarantine.deleteEntry(project.id, entry.id))) erased++;
      }
      after = page.next;
    } while (after !== undefined);
    return erased;
  }

  /** The id of the customer named by key parameters, normalized as writes are. */
  private customerOf(project: ProjectItem, params: Record<string, unknown>, allowed: readonly string[]): { id: string; key: Record<string, string> } {
    const model = project.model;
    if (!isKeyed(model)) throw errors.modelHasNoKey();
    const fields = model.key.fields;
    const extra = Object.keys(params).filter((name) => !fields.includes(name) && !allowed.includes(name));
    if (extra.length > 0) throw errors.invalidKeyQuery(fields, `Unknown parameter ${JSON.stringify(extra[0]!.slice(0, 100))}.`);
    const key: Record<string, string> = {};
    for (const field of fields) {
      const raw = params[field];
      if (raw === undefined) throw errors.invalidKeyQuery(fields, `The key field ${field} is missing.`);
      if (typeof raw !== 'string') throw errors.invalidKeyQuery(fields, `The key field ${field} is given more than once.`);
      const value = normalizeKeyValue(raw, model.key.normalize?.[field]);
      if (value.length === 0) throw errors.invalidKeyQuery(fields, `The key field ${field} is empty.`);
      Object.defineProperty(key, field, { value, enumerable: true });
    }
    return { id: keyedRecordId(project.id, model, key), key };
  }

  /**
   * The `where.<field>=value` or `where.<field>.prefix=value` filter of a listing, if any:
   * one at a time, on an indexed field, with a non-empty value. A field is read as a prefix
   * filter when its name ends in `.prefix` and the whole name is not itself indexed.
   */
  whereFilter(project: ProjectItem, params: Record<string, unknown>): RecordFilter | undefined {
    const names = Object.keys(params).filter((name) => name.startsWith('where.'));
    if (names.length === 0) return undefined;
    const indexes = project.model?.indexes ?? [];
    if (names.length > 1) throw errors.validation('A listing takes one where. filter at a time.');
    const name = names[0]!;
    const raw = params[name];
    let field = name.slice('where.'.length);
    let prefix = false;
    if (field.endsWith('.prefix') && !indexes.includes(field)) {
      field = field.slice(0, -'.prefix'.length);
      prefix = true;
    }
    if (!indexes.includes(field)) throw errors.fieldNotIndexed(field, indexes);
    if (typeof raw !== 'string' || raw.length === 0) throw errors.validation(`${name} must be given once, with a non-empty value.`);
    return { field, match: prefix ? { prefix: raw } : { equals: raw }, scope: `${name}=${raw}` };
  }

  /** A page of the records whose indexed field matches, from the index. */
  async listWhere(project: ProjectItem, filter: RecordFilter, options: { limit: number; after?: string }): Promise<RecordPage> {
    const model = project.model!;
    const slot = model.indexSlots?.[filter.field] ?? model.indexes.indexOf(filter.field);
    return this.records.queryIndex(project.tableName, { field: filter.field, slot, match: filter.match, limit: options.limit, after: options.after });
  }

  /** A page of the records written at or after `since` (ISO), from the store's write-time index. */
  async listUpdatedSince(project: ProjectItem, options: { since: string; limit: number; after?: string }): Promise<RecordPage> {
    return this.records.listUpdatedSince(project.tableName, options);
  }

  /** One page of the project's records in the store's order; `afterId` continues a page. */
  async list(project: ProjectItem, options: { limit: number; afterId?: string }): Promise<RecordPage> {
    return this.records.listRecords(project.tableName, options);
  }

  /** Whether the engine writes pages of NDJSON lines itself (listLines); else they are written from the records. */
  get writesLines(): boolean {
    return this.records.listRecordLines !== undefined && this.records.listUpdatedLinesSince !== undefined;
  }

  /**
   * The same page as `list` (or, with `since`, as `listUpdatedSince`), as NDJSON lines
   * written by the engine (only where `writesLines`).
   */
  async listLines(project: ProjectItem, options: { limit: number; after?: string; since?: string }): Promise<RecordLinesPage> {
    const { listRecordLines, listUpdatedLinesSince } = this.records;
    if (listRecordLines === undefined || listUpdatedLinesSince === undefined) {
      throw errors.internal(new Error('The record store does not write NDJSON lines.'));
    }
    const { limit, after, since } = options;
    return since === undefined
      ? listRecordLines.call(this.records, project.tableName, { limit, afterId: after })
      : listUpdatedLinesSince.call(this.records, project.tableName, { since, limit, after });
  }

  /** A JSON body: one object, or an array whose elements are each checked on their own. */
  private splitJson(text: string): Candidate[] {
    let value: unknown;
    try {
      value = parseJsonExact(text, this.limits.maxJsonDepth);
    } catch (error) {
      // One element too deep or with a repeated key fails the parse of the whole body, yet
      // it is that record's fault alone: an array is then split into its elements and each
      // is parsed on its own (the common, clean body keeps the one-pass parse above). The
      // depth limit applies to each element, as it does to a JSON array file's.
      const elements = error instanceof AppError ? splitJsonArrayText(text) : undefined;
      if (elements === undefined) throw error;
      return elements.map((element, index) => this.parseRecordText(element, index, (fault) => {
        // Anything else wrong in an element (a syntax error) leaves the body unreadable.
        throw fault;
      }));
    }
    if (isPlainRecord(value)) return [{ index: 0, value }];
    if (!Array.isArray(value)) {
      throw errors.invalidBody('The body must be a JSON object or an array of objects.');
    }
    // Whether each element is a record is the record builder's call.
    return value.map((element, index) => ({ index, value: element }));
  }

  /**
   * NDJSON: one record per line; `index` is the 0-based line number, so errors point at
   * the line. Blank lines are skipped, not counted as errors.
   */
  private splitNdjson(text: string): Candidate[] {
    const lines = text.split('\n');
    const candidates: Candidate[] = [];
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index]!.trim();
      if (line.length === 0) continue;
      if (candidates.length >= this.limits.maxRecordsPerRequest) {
        throw errors.tooManyRecords(this.limits.maxRecordsPerRequest);
      }
      // A line that is not JSON at all keeps the documented code invalid_json.
      candidates.push(this.parseRecordText(line, index, (fault) => ({ index, code: 'invalid_json', message: fault.message })));
    }
    return candidates;
  }

  /**
   * One record's text as a candidate: a too-deep or repeated-key record becomes its own
   * error with its code; any other parse failure is handed to `onUnreadable`.
   */
  private parseRecordText(text: string, index: number, onUnreadable: (fault: Error) => RecordError): Candidate {
    try {
      return { index, value: parseRecordJson(text, this.limits.maxJsonDepth) };
    } catch (error) {
      if (isRecordFault(error)) return { index, error: { index, code: error.code, message: error.message } };
      return { index, error: onUnreadable(error instanceof Error ? error : new Error('invalid JSON')) };
    }
  }
}

/** The customer id a quarantined row would have been written under, if it names a key. */
function quarantinedCustomerId(project: ProjectItem, model: KeyedModel, raw: string | null): string | undefined {
  if (raw === null) return undefined;
  let value: unknown;
  try {
    value = parseJsonExact(raw, STORED_DEPTH);
  } catch {
    return undefined;
  }
  if (!isPlainRecord(value)) return undefined;
  const key = keyOfRecord(value, model.key);
  return key.ok ? keyedRecordId(project.id, model, key.key) : undefined;
}

/** The Idempotency-Key named by a record's source JSON, if it came from an idempotent push. */
function idempotencyKeyOf(source: unknown): string | undefined {
  let parsed: unknown = source;
  if (typeof source === 'string') {
    try {
      parsed = JSON.parse(source);
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { type, idempotencyKey } = parsed as { type?: unknown; idempotencyKey?: unknown };
  return type === 'api' && typeof idempotencyKey === 'string' ? idempotencyKey : undefined;
}

const isRecordFault = (error: unknown): error is AppError => error instanceof AppError && RECORD_PARSE_CODES.has(error.code);

/**
 * The project's cleaning rules and schema on each pushed record, before it is keyed and
 * stored (as for file rows): a record comes out cleaned, skipped by a filter, or refused
 * whole with the step, rule and field that refused it.
 */
function cleanCandidates(cleaner: RecordCleaner, candidates: Candidate[]): void {
  for (const candidate of candidates) {
    if (candidate.error !== undefined || !isPlainRecord(candidate.value)) continue;
    // Printed before the rules change it: a refused record is kept as it was sent.
    const raw = toJsonText(candidate.value);
    const outcome = cleaner.clean(candidate.value);
    if (outcome.kind === 'clean') candidate.value = outcome.record;
    else if (outcome.kind === 'skipped') candidate.skipped = true;
    else {
      const { code, message, step, rule, field } = outcome.reason;
      candidate.error = { index: candidate.index, code, message, ...(step === undefined ? {} : { step }), rule, field };
      candidate.raw = raw;
    }
  }
}
