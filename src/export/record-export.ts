import { stringify } from 'csv-stringify/sync';
import type { ProjectItem, StoredRecord } from '../domain/model.js';
import type { RecordFilter, RecordService } from '../domain/records.service.js';
import { isKeyed } from '../domain/record-model.js';
import type { RecordLinesPage, RecordPage } from '../storage/ports.js';
import type { ExportRequest } from './export-request.js';
import { csvColumns, csvHeader, csvRow, jsonRow, leafPaths, parseData } from './export-rows.js';

/** Bytes are handed on in chunks of about this size: big enough for throughput, small enough for flat memory. */
const CHUNK_BYTES = 256 * 1024;

export interface RecordExportOptions {
  /** Records per store read. */
  pageSize: number;
  /** Called once per page read from the store (the export metric counts them). */
  onPage?: () => void;
}

type FetchPage<P> = (after: string | undefined) => Promise<P>;

/**
 * Pages from the store, the next one read while the current one is written out, so that
 * a store with network latency (DynamoDB) is not waited on per page. Stops at once when
 * the signal aborts (the client went away): no further page is asked for.
 */
export async function* storePages<P extends { lastId?: string }>(fetchPage: FetchPage<P>, signal: AbortSignal, onPage?: () => void): AsyncGenerator<P> {
  let pending: Promise<P> | undefined = fetchPage(undefined);
  try {
    while (pending !== undefined) {
      const page: P = await pending;
      onPage?.();
      pending = page.lastId !== undefined && !signal.aborted ? fetchPage(page.lastId) : undefined;
      if (signal.aborted) return;
      yield page;
    }
  } finally {
    // A read still under way when the export stopped: its outcome no longer matters.
    pending?.catch(() => undefined);
  }
}

async function* recordsOf(pages: AsyncIterable<RecordPage>): AsyncGenerator<StoredRecord[]> {
  for await (const page of pages) yield page.items;
}

/**
 * UTF-8 chunks of about CHUNK_BYTES, each row's text encoded straight into the chunk. Joining
 * a page's rows into one string first made V8 flatten a rope of hundreds of pieces and then
 * encode the whole string again on its way to the socket: two copies of every byte, which
 * cost more than reading the rows from the store.
 */
export class ChunkWriter {
  private buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;

  /** Appends the text; returns the chunk it filled, if it filled one. */
  write(text: string): Buffer | undefined {
    let full: Buffer | undefined;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8: the exact length is only counted near the end.
    if (this.used + text.length * 3 > this.buffer.length) {
      const bytes = Buffer.byteLength(text);
      if (this.used + bytes > this.buffer.length) {
        full = this.take();
        if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
      }
    }
    this.used += this.buffer.write(text, this.used);
    return full;
  }

  /** The bytes written since the last chunk (undefined if none); a fresh buffer takes the next ones. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    return chunk;
  }
}

/** Row texts as UTF-8 chunks of about CHUNK_BYTES. */
async function* encoded(pieces: AsyncIterable<string>): AsyncGenerator<Buffer> {
  const out = new ChunkWriter();
  for await (const piece of pieces) {
    const full = out.write(piece);
    if (full !== undefined) yield full;
  }
  const last = out.take();
  if (last !== undefined) yield last;
}

/**
 * Streamed exports of a project's records as NDJSON, a JSON array or CSV. Records are read
 * page by page from the record store (or from an index with a where filter) and written
 * from their stored JSON text; nothing holds more than a page and a chunk.
 */
export class RecordExport {
  constructor(
    private readonly records: RecordService,
    private readonly options: RecordExportOptions,
  ) {}

  /**
   * The export's bytes (UTF-8) in chunks. Nothing is yielded before the first page was read, so a
   * caller that awaits the first chunk before sending headers still answers a store or
   * index error with a proper error status.
   */
  chunks(project: ProjectItem, request: ExportRequest, filter: RecordFilter | undefined, signal: AbortSignal): AsyncGenerator<Buffer> {
    const { since } = request;
    const limit = this.options.pageSize;
    if (request.format === 'ndjson' && request.fields === undefined && filter === undefined && this.records.writesLines) {
      return lineChunks(storePages((after) => this.records.listLines(project, { since, limit, after }), signal, this.options.onPage));
    }
    const fetchPage: FetchPage<RecordPage> = (after) => {
      if (since !== undefined) return this.records.listUpdatedSince(project, { since, limit, after });
      if (filter !== undefined) return this.records.listWhere(project, filter, { limit, after });
      return this.records.list(project, { limit, afterId: after });
    };
    const pages = () => recordsOf(storePages(fetchPage, signal, this.options.onPage));
    if (request.format === 'csv') return encoded(csvPieces(project, request, pages));
    if (request.format === 'json') return jsonArrayChunks(request, pages());
    return ndjsonChunks(request, pages());
  }
}

/** Every record's whole view as NDJSON: the pages' lines as the engine wrote them. */
async function* lineChunks(pages: AsyncIterable<RecordLinesPage>): AsyncGenerator<Buffer> {
  for await (const page of pages) if (page.text.length > 0) yield page.text;
}

// A promise per chunk, never per record: an await per record costs more than writing it.
async function* ndjsonChunks(request: ExportRequest, pages: AsyncIterable<StoredRecord[]>): AsyncGenerator<Buffer> {
  const out = new ChunkWriter();
  for await (const page of pages) {
    for (const record of page) {
      const full = out.write(`${jsonRow(record, request.fields)}\n`);
      if (full !== undefined) yield full;
    }
  }
  const last = out.take();
  if (last !== undefined) yield last;
}

async function* jsonArrayChunks(request: ExportRequest, pages: AsyncIterable<StoredRecord[]>): AsyncGenerator<Buffer> {
  const out = new ChunkWriter();
  let first = true;
  for await (const page of pages) {
    for (const record of page) {
      const full = out.write(`${first ? '[' : ','}${jsonRow(record, request.fields)}\n`);
      first = false;
      if (full !== undefined) yield full;
    }
  }
  const full = out.write(first ? '[]\n' : ']\n');
  if (full !== undefined) yield full;
  yield out.take()!;
}

/**
 * CSV: the header is `fields` when given, else the union of the data's leaf paths found
 * in a first pass over the records, in the order they first appear. RFC 4180 (CRLF,
 * quotes doubled) by csv-stringify.
 */
async function* csvPieces(project: ProjectItem, request: ExportRequest, pages: () => AsyncIterable<StoredRecord[]>): AsyncGenerator<string> {
  let paths = request.fields;
  if (paths === undefined) {
    const found = new Map<string, string[]>();
    for await (const page of pages()) for (const record of page) leafPaths(parseData(record), [], found);
    paths = [...found.values()];
  }
  const columns = csvColumns(isKeyed(project.model), paths);
  let head = (request.bom ? '\uFEFF' : '') + stringify([csvHeader(columns)], CSV_OPTIONS);
  for await (const page of pages()) {
    const text = stringify(
      page.map((record) => csvRow(record, columns, request.raw)),
      CSV_OPTIONS,
    );
    yield head + text;
    head = '';
  }
  if (head !== '') yield head;
}

export const CSV_OPTIONS = { record_delimiter: 'windows', quoted_match: /\r/ } as const;
