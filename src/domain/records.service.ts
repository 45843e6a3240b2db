import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import type { ProjectItem, StoredRecord } from './model.js';
import type { ControlStore, RecordPage, RecordStore } from '../storage/ports.js';
import { deterministicId, newRecordId } from './ids.js';
import { decodeUtf8, isPlainRecord, parseJsonExact } from './json-text.js';
import { buildRecord } from './record-builder.js';

// Kept here too for callers that knew them as the push path's.
export { MAX_ITEM_BYTES, storedRecordSize } from './record-builder.js';

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export type PushContentType = 'json' | 'ndjson';

export interface RecordError {
  index: number;
  code: string;
  message: string;
}

export interface PushResult {
  accepted: number;
  rejected: number;
  records: { index: number; id: string }[];
  errors: RecordError[];
}

export interface PushInput {
  project: ProjectItem;
  body: Buffer;
  contentType: PushContentType;
  idempotencyKey?: string;
  source: { keyId: string; requestId: string };
}

export interface RecordLimits {
  maxRecordsPerRequest: number;
  maxJsonDepth: number;
}

interface Candidate {
  index: number;
  value?: unknown;
  error?: RecordError;
}

/**
 * Pushed records: each one is validated on its own, stored with a deterministic id when
 * the request carries an Idempotency-Key (so a retry rewrites the same items instead of
 * adding new ones), and read back with its data exactly as sent.
 */
export class RecordService {
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

    const result: PushResult = { accepted: 0, rejected: 0, records: [], errors: [] };
    const toStore: StoredRecord[] = [];
    for (const candidate of candidates) {
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
    result.accepted = result.records.length;
    result.rejected = result.errors.length;
    return result;
  }

  async get(project: ProjectItem, id: string): Promise<StoredRecord> {
    // Ids are 26 characters; anything far longer cannot exist and is not worth a read.
    if (id.length === 0 || id.length > 128) throw errors.recordNotFound(id);
    const record = await this.records.getRecord(project.tableName, id);
    if (!record) throw errors.recordNotFound(id);
    return record;
  }

  /** One page of the project's records in the store's order; `afterId` continues a page. */
  async list(project: ProjectItem, options: { limit: number; afterId?: string }): Promise<RecordPage> {
    return this.records.listRecords(project.tableName, options);
  }

  /** A JSON body: one object, or an array whose elements are each checked on their own. */
  private splitJson(text: string): Candidate[] {
    const value = parseJsonExact(text, this.limits.maxJsonDepth);
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
      try {
        candidates.push({ index, value: parseJsonExact(line, this.limits.maxJsonDepth) });
      } catch (error) {
        const message = error instanceof Error ? error.message : 'invalid JSON';
        candidates.push({ index, error: { index, code: 'invalid_json', message } });
      }
    }
    return candidates;
  }
}
