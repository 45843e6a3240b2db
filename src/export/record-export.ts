import { stringify } from 'csv-stringify/sync';
import type { ProjectItem, StoredRecord } from '../domain/model.js';
import type { RecordFilter, RecordService } from '../domain/records.service.js';
import { isKeyed } from '../domain/record-model.js';
import type { RecordPage } from '../storage/ports.js';
import type { ExportRequest } from './export-request.js';
import { csvColumns, csvHeader, csvRow, jsonRow, leafPaths, parseData } from './export-rows.js';

/** Text is handed on in pieces of about this size: big enough for throughput, small enough for flat memory. */
const CHUNK_CHARS = 256 * 1024;

export interface RecordExportOptions {
  /** Records per store read. */
  pageSize: number;
  /** Called once per page read from the store (the export metric counts them). */
  onPage?: () => void;
}

type FetchPage = (after: string | undefined) => Promise<RecordPage>;

/**
 * Pages of the project's records, the next one read while the current one is written out,
 * so that a store with network latency (DynamoDB) is not waited on per page. Stops at once
 * when the signal aborts (the client went away): no further page is asked for.
 */
export async function* recordPages(fetchPage: FetchPage, signal: AbortSignal, onPage?: () => void): AsyncGenerator<StoredRecord[]> {
  let pending: Promise<RecordPage> | undefined = fetchPage(undefined);
  try {
    while (pending !== undefined) {
      const page: RecordPage = await pending;
      onPage?.();
      pending = page.lastId !== undefined && !signal.aborted ? fetchPage(page.lastId) : undefined;
      if (signal.aborted) return;
      yield page.items;
    }
  } finally {
    // A read still under way when the export stopped: its outcome no longer matters.
    pending?.catch(() => undefined);
  }
}

/** Joins row texts into chunks of about CHUNK_CHARS. */
async function* chunked(pieces: AsyncIterable<string>): AsyncGenerator<string> {
  let parts: string[] = [];
  let size = 0;
  for await (const piece of pieces) {
    parts.push(piece);
    size += piece.length;
    if (size >= CHUNK_CHARS) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield parts.join('');
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
   * The export's text in chunks. Nothing is yielded before the first page was read, so a
   * caller that awaits the first chunk before sending headers still answers a store or
   * index error with a proper error status.
   */
  chunks(project: ProjectItem, request: ExportRequest, filter: RecordFilter | undefined, signal: AbortSignal): AsyncGenerator<string> {
    const { since } = request;
    const limit = this.options.pageSize;
    const fetchPage: FetchPage = (after) => {
      if (since !== undefined) return this.records.listUpdatedSince(project, { since, limit, after });
      if (filter !== undefined) return this.records.listWhere(project, filter, { limit, after });
      return this.records.list(project, { limit, afterId: after });
    };
    const pages = () => recordPages(fetchPage, signal, this.options.onPage);
    if (request.format === 'csv') return chunked(csvPieces(project, request, pages));
    if (request.format === 'json') return chunked(jsonArrayPieces(request, pages()));
    return chunked(ndjsonPieces(request, pages()));
  }
}

// One piece per page (or per CHUNK_CHARS of a page of large records), never per record:
// an await per record costs more than writing it.
async function* ndjsonPieces(request: ExportRequest, pages: AsyncIterable<StoredRecord[]>): AsyncGenerator<string> {
  for await (const page of pages) {
    let text = '';
    for (const record of page) {
      text += `${jsonRow(record, request.fields)}\n`;
      if (text.length >= CHUNK_CHARS) {
        yield text;
        text = '';
      }
    }
    if (text !== '') yield text;
  }
}

async function* jsonArrayPieces(request: ExportRequest, pages: AsyncIterable<StoredRecord[]>): AsyncGenerator<string> {
  let first = true;
  for await (const page of pages) {
    let text = '';
    for (const record of page) {
      text += `${first ? '[' : ','}${jsonRow(record, request.fields)}\n`;
      first = false;
      if (text.length >= CHUNK_CHARS) {
        yield text;
        text = '';
      }
    }
    if (text !== '') yield text;
  }
  yield first ? '[]\n' : ']\n';
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
