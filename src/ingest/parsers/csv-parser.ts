import { CsvError, Parser, type Options } from 'csv-parse';
import { normalizeHeaders } from './csv-dialect.js';
import { recordTooLarge } from './element-buffer.js';
import type { TextState } from './text-encoding.js';
import { FileRejectedError, type ParsedRow } from './types.js';

export interface CsvRowOptions {
  delimiter: string;
  maxRecordBytes: number;
  text: TextState;
  notices: string[];
}

const WRITE_SLICE_BYTES = 64 * 1024;

/** The part of csv-parse's parser state that measures the record in progress. */
interface ParserProgress {
  record: unknown[];
  record_length: number;
  field: { length: number };
}

/**
 * Drives csv-parse's stream parser by hand: one chunk is written, the records
 * it completes are read back synchronously, and only then is the next chunk
 * pulled. That keeps backpressure exact, and because the parser is never
 * auto-destroyed, the records parsed before an error are still readable when
 * the error is handled: rows before a failure are always yielded.
 */
class CsvFeeder {
  private readonly parser: Parser;
  failure: unknown;
  ended = false;

  constructor(
    delimiter: string,
    readonly limit: number,
  ) {
    const options: Options & { autoDestroy: boolean; readableHighWaterMark: number } = {
      delimiter,
      // Every line ending, even mixed in one file (csv-parse's discovery would
      // lock onto the first line's). '\r\n' ends the record at '\r' and leaves an
      // empty line that skip_empty_lines drops: two candidates per byte, not three.
      record_delimiter: ['\n', '\r'],
      // Cells stay strings exactly as written: no cast, no trim.
      cast: false,
      // The BOM is removed before the parser sees the bytes.
      bom: false,
      skip_empty_lines: true,
      // Ragged rows are passed through and rejected one by one below.
      relax_column_count: true,
      // A stray quote inside an unquoted cell (5'11", Bob "the" Builder) is kept as text.
      relax_quotes: true,
      // The row's text as written, to tell a cell that csv-parse relaxed (a quoted cell with
      // unescaped inner quotes, which it keeps with its enclosing quotes) from one whose
      // value really starts with a quote: see readMalformedQuotes.
      raw: true,
      // Bounds the one growing buffer: a 2 GiB line fails here with flat memory.
      max_record_size: limit,
      // Stream options passed through to the Transform: all records of a chunk
      // fit in the readable buffer, and an error leaves them readable.
      autoDestroy: false,
      readableHighWaterMark: 1 << 30,
    };
    this.parser = new Parser(options);
    this.parser.on('error', (err) => {
      this.failure ??= err;
    });
  }

  private writeSlice(slice: Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.parser.write(slice, (err) => {
        if (err) this.failure ??= err;
        resolve();
      });
    });
  }

  /**
   * csv-parse's max_record_size counts the characters of the cells, not the
   * cells: a 2 GiB line of bare delimiters (empty cells) would grow the record's
   * cell array without bound. After each slice of at most 64 KiB the record in
   * progress is measured as cells + characters, from the parser's `state` (kept
   * public by csv-parse for backward compatibility).
   */
  async write(chunk: Buffer): Promise<void> {
    for (let start = 0; start < chunk.length && this.failure === undefined; start += WRITE_SLICE_BYTES) {
      await this.writeSlice(start === 0 && chunk.length <= WRITE_SLICE_BYTES ? chunk : chunk.subarray(start, start + WRITE_SLICE_BYTES));
      const { record, record_length, field } = (this.parser as unknown as { state: ParserProgress }).state;
      if (this.failure === undefined && record.length + record_length + field.length > this.limit) {
        this.failure = new CsvError('CSV_MAX_RECORD_SIZE', 'a record holds more cells and characters than the limit');
      }
    }
  }

  end(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.parser.off('finish', done);
        this.parser.off('error', done);
        this.ended = true;
        resolve();
      };
      this.parser.once('finish', done);
      this.parser.once('error', done);
      this.parser.end();
    });
  }

  read(): CsvRecord | null {
    return this.parser.read() as CsvRecord | null;
  }

  destroy(): void {
    this.parser.destroy();
  }

  /** Pulls the next chunk into the parser; false once the input is exhausted. */
  async feed(chunks: AsyncIterator<Buffer>): Promise<boolean> {
    if (this.ended) return false;
    const next = await chunks.next();
    if (next.done) await this.end();
    else await this.write(next.value);
    return true;
  }
}

/** A record as csv-parse gives it with `raw`: the cells and the text they came from. */
interface CsvRecord {
  record: string[];
  raw: string;
}

/**
 * Reads the cells of a quoted cell with unescaped inner quotes (`"He said "clean it" today"`)
 * as spreadsheet tools do: enclosing quotes removed, inner quotes kept. csv-parse (relaxed)
 * keeps such a cell as written, enclosing quotes included. Only a cell that starts with a
 * quote can be one: a cell whose value truly starts with a quote was written escaped
 * (`"""x"""`), and that escaped form is then in the row's text, while a relaxed one's is
 * not. Returns whether a cell was changed, for the job's notice.
 */
function readMalformedQuotes(cells: string[], raw: string): boolean {
  let changed = false;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    if (cell.charCodeAt(0) !== 0x22 || cell.length < 2 || cell.charCodeAt(cell.length - 1) !== 0x22) continue;
    if (raw.includes('"' + cell.replaceAll('"', '""') + '"')) continue;
    cells[i] = cell.slice(1, -1);
    changed = true;
  }
  return changed;
}

/** Row numbers named in a notice; past this many, the rest are counted. */
const MAX_NOTICE_ROWS = 20;

function failureToFileError(failure: unknown, where: string, limit: number): unknown {
  if (!(failure instanceof CsvError)) return failure;
  if (failure.code === 'CSV_MAX_RECORD_SIZE') return recordTooLarge(where, limit, failure);
  return new FileRejectedError('malformed_csv', `${where}: ${failure.message}`, { cause: failure });
}

/** `"name":` prefixes, built once per file. */
function buildKeyPrefixes(names: readonly string[]): string[] {
  return names.map((name, i) => (i === 0 ? '' : ',') + JSON.stringify(name) + ':');
}

/** True when a cell cannot be copied between quotes verbatim: quote, backslash, control character or a surrogate. */
function needsEscaping(cell: string): boolean {
  for (let i = 0; i < cell.length; i++) {
    const c = cell.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

// Most cells need no escaping: a char scan plus concatenation measured about
// twice as fast as calling JSON.stringify on every cell.
function cellsToJson(keys: readonly string[], cells: readonly string[]): string {
  let json = '{';
  for (let i = 0; i < keys.length; i++) {
    const cell = cells[i]!;
    json += keys[i]! + (needsEscaping(cell) ? JSON.stringify(cell) : '"' + cell + '"');
  }
  return json + '}';
}

/**
 * The data rows, as a hand-written async iterator: a chunk's rows are built into
 * a batch and handed out with one resolved promise each, which costs less per
 * row than an async generator's yield on this hot path.
 */
class CsvRows implements AsyncIterableIterator<ParsedRow> {
  private readonly keys: string[];
  private batch: ParsedRow[] = [];
  private index = 0;
  private row = 0;
  private done = false;
  private pendingError: unknown;
  private refilling: Promise<unknown> | undefined;

  constructor(
    private readonly feeder: CsvFeeder,
    private readonly chunks: AsyncGenerator<Buffer>,
    private readonly names: readonly string[],
    private readonly text: TextState,
    private readonly notices: string[],
  ) {
    this.keys = buildKeyPrefixes(names);
  }

  private readonly malformedQuoteRows: number[] = [];
  private malformedQuoteCount = 0;
  private malformedQuoteNotice = -1;

  /** One notice for the file, rewritten as rows are found, so it names every row up to a bound. */
  private noteMalformedQuotes(row: number): void {
    this.malformedQuoteCount++;
    if (this.malformedQuoteRows.length < MAX_NOTICE_ROWS) this.malformedQuoteRows.push(row);
    const more = this.malformedQuoteCount - this.malformedQuoteRows.length;
    const notice =
      `${this.malformedQuoteCount === 1 ? 'row' : 'rows'} ${this.malformedQuoteRows.join(', ')}${more > 0 ? ` and ${more} more` : ''}: a quoted cell holds unescaped quotes ` +
      '(such as "He said "clean it" today"); it was read as spreadsheet tools read it, enclosing quotes removed and inner quotes kept';
    if (this.malformedQuoteNotice === -1) this.malformedQuoteNotice = this.notices.push(notice) - 1;
    else this.notices[this.malformedQuoteNotice] = notice;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ParsedRow>> {
    if (this.index < this.batch.length) return Promise.resolve({ value: this.batch[this.index++]!, done: false });
    // A caller that does not await each call (unlike for await) is served in order.
    if (this.refilling) return this.refilling.then(() => this.next());
    const refill = this.refill();
    this.refilling = refill;
    const clear = () => {
      this.refilling = undefined;
    };
    refill.then(clear, clear);
    return refill;
  }

  async return(): Promise<IteratorResult<ParsedRow>> {
    await this.close();
    return { value: undefined, done: true };
  }

  private async refill(): Promise<IteratorResult<ParsedRow>> {
    try {
      this.batch = [];
      this.index = 0;
      while (this.batch.length === 0 && !this.done) {
        this.drain();
        if (this.feeder.failure !== undefined) this.settleFailure();
        else if (this.batch.length === 0 && !(await this.feeder.feed(this.chunks))) this.done = true;
      }
      if (this.batch.length > 0) return { value: this.batch[this.index++]!, done: false };
    } catch (err) {
      await this.close();
      throw err;
    }
    await this.close();
    const error = this.pendingError;
    if (error !== undefined) {
      this.pendingError = undefined;
      throw error;
    }
    return { value: undefined, done: true };
  }

  private drain(): void {
    const { keys, names, batch, text } = this;
    const width = keys.length;
    let next: CsvRecord | null;
    while ((next = this.feeder.read()) !== null) {
      const cells = next.record;
      const row = ++this.row;
      if (cells.length !== width) {
        batch.push({
          row,
          ok: false,
          code: 'column_count_mismatch',
          message: `expected ${width} cells as in the header, found ${cells.length}`,
        });
        continue;
      }
      if (readMalformedQuotes(cells, next.raw)) this.noteMalformedQuotes(row);
      const data = cellsToJson(keys, cells);
      // U+FFFD only comes from invalid bytes once the file is known to hold some.
      if (text.invalidUtf8Seen && data.includes('\uFFFD')) {
        batch.push({ row, ok: false, code: 'invalid_encoding', message: 'the row holds bytes that are not valid UTF-8' });
      } else {
        batch.push({ row, ok: true, data, cells: { names, values: cells } });
      }
    }
  }

  /** Called once every row before the failure is in the batch; a fatal error is thrown after them. */
  private settleFailure(): void {
    const { failure } = this.feeder;
    this.done = true;
    if (failure instanceof CsvError && failure.code === 'CSV_QUOTE_NOT_CLOSED') {
      // Only the last record can be unterminated: everything from its opening
      // quote to the end of the file is rejected as that one row; rows before it stand.
      this.batch.push({
        row: ++this.row,
        ok: false,
        code: 'unterminated_quote',
        message: 'a quoted cell is never closed before the end of the file',
      });
      return;
    }
    this.pendingError = failureToFileError(failure, `row ${this.row + 1}`, this.feeder.limit);
  }

  private async close(): Promise<void> {
    this.done = true;
    this.feeder.destroy();
    await this.chunks.return(undefined);
  }
}

/**
 * Reads the header before returning, so renamed-header notices are known at
 * open time; the returned iterator yields the data rows. A file with only a
 * header yields nothing.
 */
export async function openCsvRows(chunks: AsyncGenerator<Buffer>, opts: CsvRowOptions): Promise<AsyncIterableIterator<ParsedRow>> {
  const feeder = new CsvFeeder(opts.delimiter, opts.maxRecordBytes);
  let header: CsvRecord | null = null;
  try {
    while ((header = feeder.read()) === null && feeder.failure === undefined) {
      if (!(await feeder.feed(chunks))) break;
    }
    if (header === null) {
      if (feeder.failure instanceof CsvError && feeder.failure.code === 'CSV_QUOTE_NOT_CLOSED') {
        throw new FileRejectedError('malformed_csv', 'the header row has a quoted cell that is never closed', {
          cause: feeder.failure,
        });
      }
      if (feeder.failure !== undefined) throw failureToFileError(feeder.failure, 'the header row', feeder.limit);
    }
  } catch (err) {
    feeder.destroy();
    await chunks.return(undefined);
    throw err;
  }
  const names = normalizeHeaders(header?.record ?? [''], opts.notices);
  return new CsvRows(feeder, chunks, names, opts.text, opts.notices);
}
