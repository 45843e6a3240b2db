import type { Readable } from 'node:stream';

export type FileFormat = 'csv' | 'tsv' | 'json' | 'ndjson' | 'xml';

/**
 * One data record of a file, in file order. `row` is the 1-based ordinal of the
 * data record (a CSV header is not counted, blank lines are not records); it is a
 * pure function of the file's bytes, so record ids derived from (file, row) are
 * stable across retries and resumed jobs.
 */
export type ParsedRow =
  | { row: number; ok: true; data: string; cells?: CsvCells } // data = JSON text of ONE record object
  | { row: number; ok: false; code: string; message: string }; // a row-level rejection

/**
 * A CSV row's header names (shared by the file's rows) and its cells, of which `data` is
 * the JSON text: a reader that needs the record as an object (the cleaning rules) builds
 * it from them rather than parse the text.
 */
export interface CsvCells {
  names: readonly string[];
  values: readonly string[];
}

/** Codes of row-level rejections (the file goes on). */
export type RowRejectionCode =
  | 'column_count_mismatch'
  | 'unterminated_quote'
  | 'invalid_json'
  | 'not_an_object'
  | 'invalid_xml'
  | 'invalid_encoding'
  | 'too_deep';

/** Codes of whole-file failures. */
export type FileRejectionCode =
  | 'unsupported_format'
  | 'empty_file'
  | 'invalid_gzip'
  | 'decompressed_too_large'
  | 'record_too_large'
  | 'xml_doctype_forbidden'
  | 'invalid_encoding'
  | 'malformed_csv'
  | 'malformed_json'
  | 'malformed_xml';

export interface OpenOptions {
  fileName?: string;
  contentType?: string;
  /** gzip bomb guard: fail the file past this many decompressed bytes (gzip input only). */
  maxDecompressedBytes: number;
  /**
   * gzip bomb guard: fail the file once it inflates past this many decompressed bytes per
   * compressed byte (judged past 16 MiB). Defaults to DEFAULT_MAX_INFLATION_RATIO.
   */
  maxInflationRatio?: number;
  /** A single record/line/element larger than this fails the file; memory stays flat. */
  maxRecordBytes: number;
  /**
   * Nesting allowed in one record (JSON brackets, XML elements); a deeper record is a row
   * rejection, too_deep. Defaults to DEFAULT_MAX_RECORD_DEPTH.
   */
  maxDepth?: number;
  signal?: AbortSignal;
}

export interface OpenedFile {
  format: FileFormat;
  compressed: boolean;
  /** The encoding the text was decoded from: utf-8, utf-16le, utf-16be or windows-1252. */
  encoding: string;
  /**
   * Human-readable remarks about decisions taken (encoding, renamed headers...).
   * Filled at open time and appended to while `rows` is read (e.g. invalid UTF-8
   * found late in the file), so read it again once iteration is over.
   */
  notices: string[];
  /**
   * Single-use. Iterate to the end or break out of it: either releases the input
   * stream. A whole-file failure is thrown from it as a FileRejectedError after
   * every row before the failure has been yielded; anything else (the input
   * stream failing, an AbortError from `signal`) propagates unchanged.
   */
  rows: AsyncIterable<ParsedRow>;
}

export class FileRejectedError extends Error {
  readonly code: FileRejectionCode;

  constructor(code: FileRejectionCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileRejectedError';
    this.code = code;
  }
}

export type OpenRecordFile = (input: Readable, opts: OpenOptions) => Promise<OpenedFile>;
