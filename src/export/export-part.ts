import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { createGzip } from 'node:zlib';
import { stringify } from 'csv-stringify/sync';
import type { ProjectItem, StoredRecord } from '../domain/model.js';
import type { RecordService } from '../domain/records.service.js';
import { PREFIXES } from '../storage/object-keys.js';
import type { ObjectStore, RecordPage } from '../storage/ports.js';
import type { ExportJob, ExportPart } from './export-job.js';
import { csvHeader, csvRow, jsonRow, type CsvColumns } from './export-rows.js';
import { CSV_OPTIONS } from './record-export.js';

export interface PartBounds {
  /** Records per part (exact unless the data ends first). */
  records: number;
  /** Uncompressed text per part: a part ends at the first page that reaches it. */
  bytes: number;
  /** Records per store read. */
  pageSize: number;
}

/** A page of a part's rows: CSV or NDJSON text, or NDJSON lines as the engine wrote them. */
interface PartRows {
  rows: string | Buffer;
  count: number;
  lastId?: string;
}

export interface WrittenPart {
  part: ExportPart;
  /** The store position after the part's last record; undefined when the data ended with it. */
  lastId?: string;
}

export const partName = (job: Pick<ExportJob, 'format' | 'gzip'>, index: number) =>
  `part-${String(index).padStart(5, '0')}.${job.format}${job.gzip ? '.gz' : ''}`;

export const exportObjectKey = (exportId: string, name: string) => `${PREFIXES.exports}${exportId}/${name}`;

/** Counts and hashes the bytes on their way to the bucket. */
export class HashingCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/**
 * Writes one part of an export job: records from the job's resume position, at most
 * `bounds.records` of them, streamed (gzip, hash) into the bucket. Returns null when
 * there is nothing left and this would be a trailing empty part (the first part is always
 * written, so an empty project still gets a file with its header).
 */
export async function writeExportPart(
  deps: { records: RecordService; objects: ObjectStore },
  project: ProjectItem,
  job: ExportJob,
  columns: CsvColumns | undefined,
  bounds: PartBounds,
  signal: AbortSignal,
): Promise<WrittenPart | null> {
  const fields = job.fields?.map((name) => name.split('.'));
  const rowsOf = (page: StoredRecord[]) =>
    columns !== undefined
      ? stringify(page.map((record) => csvRow(record, columns, false)), CSV_OPTIONS)
      : page.map((record) => `${jsonRow(record, fields)}\n`).join('');
  // Every record's whole view as NDJSON, from an engine that writes the lines itself.
  const wholeLines = columns === undefined && fields === undefined && deps.records.writesLines;
  const fetchRows = async (after: string | undefined, limit: number): Promise<PartRows> => {
    if (wholeLines) {
      const lines = await deps.records.listLines(project, { since: job.since, limit, after });
      return { rows: lines.text, count: lines.count, lastId: lines.lastId };
    }
    const page: RecordPage =
      job.since !== undefined
        ? await deps.records.listUpdatedSince(project, { since: job.since, limit, after })
        : await deps.records.list(project, { limit, afterId: after });
    return { rows: rowsOf(page.items), count: page.items.length, lastId: page.lastId };
  };
  const first = await fetchRows(job.resumeAfter, Math.min(bounds.pageSize, bounds.records));
  const index = job.parts.length;
  if (first.count === 0 && index > 0) return null;

  const state = { records: 0, lastId: undefined as string | undefined };
  async function* text(): AsyncGenerator<string | Buffer> {
    if (columns !== undefined) yield stringify([csvHeader(columns)], CSV_OPTIONS);
    let page = first;
    let size = 0;
    for (;;) {
      size += page.rows.length;
      state.records += page.count;
      if (page.rows.length > 0) yield page.rows;
      state.lastId = page.lastId;
      if (page.lastId === undefined || state.records >= bounds.records || size >= bounds.bytes || signal.aborted) return;
      page = await fetchRows(page.lastId, Math.min(bounds.pageSize, bounds.records - state.records));
      if (page.count === 0) {
        state.lastId = undefined;
        return;
      }
    }
  }

  const name = partName(job, index);
  const key = exportObjectKey(job.id, name);
  const counter = new HashingCounter();
  const source = Readable.from(text(), { objectMode: false });
  const onError = () => undefined; // the error reaches putStream through the counter
  if (job.gzip) pipeline(source, createGzip(), counter, onError);
  else pipeline(source, counter, onError);
  const contentType = job.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
  await deps.objects.putStream(project.bucketName, key, counter, { contentType: job.gzip ? 'application/gzip' : contentType, signal });
  return {
    part: { name, key, records: state.records, bytes: counter.bytes, sha256: counter.hash.digest('hex') },
    lastId: state.lastId,
  };
}
