import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { errors } from '../errors.js';
import { isPlainRecord, parseJsonExact } from '../domain/json-text.js';
import type { ProjectItem } from '../domain/model.js';
import { MAX_ITEM_BYTES } from '../domain/record-builder.js';
import { isKeyed, keyedRecordId, keyOfRecord, parseRecordModel, type StoredModel } from '../domain/record-model.js';
import { openRecordFile } from '../ingest/parsers/open-record-file.js';
import { FileRejectedError } from '../ingest/parsers/types.js';
import { PREFIXES } from '../storage/object-keys.js';
import type { ObjectStore, RecordStore } from '../storage/ports.js';
import { cleanerOf, compileCleaner, type CleanReason, type RecordCleaner } from './record-cleaner.js';

/**
 * Preview of a model on sample rows: each row cleaned (or refused), the key and record id
 * it would land on and whether it would create or update that record. Reads the project's
 * records and files; stores nothing.
 */

export const MAX_PREVIEW_ROWS = 1000;
const FILE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const previewRequestSchema = z
  .strictObject({
    records: z.array(z.unknown()).min(1).max(MAX_PREVIEW_ROWS).optional(),
    fileId: z.string().min(1).max(64).optional(),
    limit: z.number().int().min(1).max(MAX_PREVIEW_ROWS).default(100),
    /** A draft model to try instead of the saved one. */
    model: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((b) => (b.records === undefined) !== (b.fileId === undefined), 'give either records or fileId');

export interface PreviewLimits {
  maxDecompressedBytes: number;
  maxInflationRatio?: number;
  maxJsonDepth: number;
}

export interface PreviewRow {
  /** The record's index in `records`, or the file's 1-based row number. */
  row: number;
  status: 'clean' | 'skipped' | 'rejected';
  record?: Record<string, unknown>;
  /** Keyed models: the normalized key and the id of the customer's record. */
  key?: Record<string, string>;
  id?: string;
  action?: 'create' | 'update';
  /** The step of a filter that skipped the row. */
  step?: number;
  error?: { code: string; message: string; step?: number; rule?: string; field?: string };
}

export interface PreviewResult {
  modelVersion: number | null;
  rows: PreviewRow[];
  counts: { clean: number; skipped: number; rejected: number; create: number; update: number };
}

export class ModelPreviewService {
  constructor(
    private readonly objects: ObjectStore,
    private readonly records: RecordStore,
    private readonly limits: PreviewLimits,
  ) {}

  /** `body` holds the records, or a fileId of this project (another project's is not found). */
  async preview(project: ProjectItem, body: unknown): Promise<PreviewResult> {
    const parsed = previewRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw errors.validation('The preview request is invalid.', parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
    }
    const request = parsed.data;
    const model = request.model === undefined ? project.model : draftModel(project, request.model);
    const cleaner = request.model === undefined ? cleanerOf(project.id, model) : model && compileCleaner(model);
    const rows: PreviewRow[] = [];
    const seen = new Set<string>();
    const judge = async (row: number, value: unknown) => rows.push(await this.previewRow(project, model, cleaner, row, value, seen));
    if (request.records !== undefined) {
      for (const [index, value] of request.records.entries()) await judge(index, value);
    } else {
      for await (const row of this.fileRows(project, request.fileId!, request.limit)) {
        if ('error' in row) rows.push({ row: row.row, status: 'rejected', error: row.error });
        else await judge(row.row, row.value);
      }
    }
    return { modelVersion: request.model === undefined ? (project.model?.version ?? 0) : null, rows, counts: countsOf(rows) };
  }

  private async previewRow(
    project: ProjectItem,
    model: StoredModel | undefined,
    cleaner: RecordCleaner | undefined,
    row: number,
    value: unknown,
    seen: Set<string>,
  ): Promise<PreviewRow> {
    if (!isPlainRecord(value)) return { row, status: 'rejected', error: { code: 'not_an_object', message: 'A record must be a JSON object.' } };
    let record = value;
    if (cleaner !== undefined) {
      const outcome = cleaner.clean(value);
      if (outcome.kind === 'skipped') return { row, status: 'skipped', step: outcome.step };
      if (outcome.kind === 'rejected') return { row, status: 'rejected', error: errorOf(outcome.reason) };
      record = outcome.record;
    }
    if (!isKeyed(model)) return { row, status: 'clean', record, action: 'create' };
    const key = keyOfRecord(record, model.key);
    if (!key.ok) return { row, status: 'rejected', record, error: { code: key.code, message: key.message } };
    const id = keyedRecordId(project.id, model, key.key);
    // A second row of one customer in the sample would update what the first created.
    const exists = seen.has(id) || (await this.records.getRecord(project.tableName, id)) !== null;
    seen.add(id);
    return { row, status: 'clean', record, key: key.key, id, action: exists ? 'update' : 'create' };
  }

  /** The first rows of an uploaded file of this project, parsed as the poller parses them. */
  private async *fileRows(project: ProjectItem, fileId: string, limit: number): AsyncGenerator<{ row: number; value: unknown } | { row: number; error: PreviewRow['error'] & object }> {
    const found = FILE_ID.test(fileId) ? await this.findFile(project, fileId) : undefined;
    if (found === undefined) throw errors.fileNotFound(fileId);
    const stream: Readable = await this.objects.getStream(project.bucketName, found.key);
    try {
      const file = await openRecordFile(stream, {
        fileName: found.name,
        contentType: found.contentType,
        maxDecompressedBytes: this.limits.maxDecompressedBytes,
        maxInflationRatio: this.limits.maxInflationRatio,
        maxRecordBytes: MAX_ITEM_BYTES,
        maxDepth: this.limits.maxJsonDepth,
      });
      let count = 0;
      for await (const row of file.rows) {
        if (row.ok) yield { row: row.row, value: parseJsonExact(row.data, this.limits.maxJsonDepth) };
        else yield { row: row.row, error: { code: row.code, message: row.message } };
        if (++count >= limit) break;
      }
    } catch (error) {
      if (error instanceof FileRejectedError) throw errors.validation(`The file cannot be read: ${error.message}`, [{ path: 'fileId', message: error.code }]);
      throw error;
    } finally {
      // Only the first rows are read: the rest of the object is never fetched.
      stream.destroy();
    }
  }

  /** The file's object, wherever its job has moved it (incoming, processed or failed). */
  private async findFile(project: ProjectItem, fileId: string): Promise<{ key: string; name: string; contentType?: string } | undefined> {
    for (const prefix of [PREFIXES.incoming, PREFIXES.processed, PREFIXES.failed]) {
      for await (const page of this.objects.list(project.bucketName, `${prefix}${fileId}/`)) {
        const object = page[0];
        if (object !== undefined) return { key: object.key, name: object.key.slice(prefix.length + fileId.length + 1), contentType: object.contentType };
      }
    }
    return undefined;
  }
}

/** A draft validated as a PUT would validate it; hashes use the project's secret, or a throwaway one before the first save. */
function draftModel(project: ProjectItem, draft: Record<string, unknown>): StoredModel {
  const { version: _v, updatedAt: _u, ...document } = draft;
  const parsed = parseRecordModel(document);
  return {
    ...(parsed.key === undefined ? {} : { key: parsed.key }),
    merge: parsed.merge,
    indexes: parsed.indexes,
    rulesJson: JSON.stringify(parsed.rules),
    ...(parsed.schema === undefined ? {} : { schemaJson: JSON.stringify(parsed.schema) }),
    onInvalid: parsed.onInvalid,
    hashSecret: project.model?.hashSecret ?? randomBytes(32).toString('base64'),
    version: -1,
    updatedAt: '',
  };
}

function errorOf(reason: CleanReason): NonNullable<PreviewRow['error']> {
  return { code: reason.code, message: reason.message, ...(reason.step === undefined ? {} : { step: reason.step }), rule: reason.rule, field: reason.field };
}

function countsOf(rows: PreviewRow[]): PreviewResult['counts'] {
  const counts = { clean: 0, skipped: 0, rejected: 0, create: 0, update: 0 };
  for (const row of rows) {
    counts[row.status]++;
    if (row.action !== undefined && row.status === 'clean') counts[row.action]++;
  }
  return counts;
}
