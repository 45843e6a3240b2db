import { isJsonWhitespace } from './detect-format.js';
import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  DEFAULT_MAX_RECORD_DEPTH,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
  tooDeepRow,
} from './depth-guard.js';
import { ElementBuffer } from './element-buffer.js';
import { jsonBytesToRow } from './json-record.js';
import type { TextState } from './text-encoding.js';
import { FileRejectedError, type ParsedRow } from './types.js';

export interface JsonRowOptions {
  maxRecordBytes: number;
  /** Nesting allowed in one element; a deeper element is rejected alone (too_deep). */
  maxDepth?: number;
  text: TextState;
}

const enum Mode {
  BeforeDocument,
  ExpectFirstValue,
  ExpectValue,
  InValue,
  ExpectCommaOrEnd,
  AfterDocument,
}

const COMMA = 0x2c;
// Bracket types are remembered this deep; an element of 1 MiB of "[" must not
// cost 8 MiB of bookkeeping.
const MAX_TRACKED_DEPTH = 512;

/**
 * Cuts a top-level JSON array into the byte ranges of its elements (or takes a
 * single top-level object as one element) without building anything: it only
 * tracks strings, escapes and bracket nesting. Each element's bytes then go to
 * lossless-json on their own. This hand-written splitter is used because a
 * generic streaming JSON tokenizer would build tokens for every value only to
 * throw them away, and lossless-json has no streaming mode; here memory is one
 * element at most, and a per-byte loop over a Buffer is cheap next to parsing.
 *
 * Bracket mismatches, missing commas, trailing commas, text after the document
 * and a premature end are structural: the file fails with malformed_json. A bad
 * value inside a well-delimited element is only that element's problem.
 */
class JsonElementSplitter {
  private mode = Mode.BeforeDocument;
  private single = false;
  private closers: number[] = [];
  /** Levels past MAX_TRACKED_DEPTH, counted only: lossless-json judges such an element. */
  private deepLevels = 0;
  private inString = false;
  private escaped = false;
  private scalar = false;
  private readonly element: ElementBuffer;
  private offset = 0;
  elementCount = 0;

  constructor(
    limit: number,
    private readonly maxDepth: number,
  ) {
    this.element = new ElementBuffer(limit, () => `element ${this.elementCount + 1}`);
  }

  /**
   * Feeds a chunk; complete elements are appended to `out`, `null` standing for an element
   * nested past maxDepth (its bytes were not kept). Throws on structural errors.
   */
  push(chunk: Buffer, out: Array<Buffer | null>): void {
    let start = this.mode === Mode.InValue ? 0 : -1;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const c = chunk[i]!;
      switch (this.mode) {
        case Mode.InValue:
          if (this.inString) {
            if (this.escaped) {
              this.escaped = false;
              break;
            }
            const close = this.findClosingQuote(chunk, i);
            if (close === -1) {
              i = length;
              break;
            }
            i = close;
            this.inString = false;
            if (this.scalar) this.finishElement(chunk, start, i + 1, out);
          } else if (this.scalar) {
            if (c === COMMA || c === CLOSE_BRACKET || isJsonWhitespace(c)) {
              this.finishElement(chunk, start, i, out);
              i--; // the delimiter is handled in ExpectCommaOrEnd
            }
          } else if (c === QUOTE) this.inString = true;
          else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.open(c);
          else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
            if (this.deepLevels > 0) this.deepLevels--;
            else if (this.closers.pop() !== c) this.fail(`unexpected '${String.fromCharCode(c)}'`, i);
            if (this.closers.length === 0) this.finishElement(chunk, start, i + 1, out);
          }
          break;
        case Mode.BeforeDocument:
          if (isJsonWhitespace(c)) break;
          if (c === OPEN_BRACKET) this.mode = Mode.ExpectFirstValue;
          else if (c === OPEN_BRACE) {
            this.single = true;
            start = this.startElement(c, i);
          } else this.fail('a JSON file must hold an array of objects or one object', i);
          break;
        case Mode.ExpectFirstValue:
        case Mode.ExpectValue:
          if (isJsonWhitespace(c)) break;
          if (c === CLOSE_BRACKET) {
            if (this.mode === Mode.ExpectValue) this.fail('trailing comma before "]"', i);
            this.mode = Mode.AfterDocument;
          } else if (c === COMMA) this.fail('unexpected ","', i);
          else start = this.startElement(c, i);
          break;
        case Mode.ExpectCommaOrEnd:
          if (isJsonWhitespace(c)) break;
          if (c === COMMA) this.mode = Mode.ExpectValue;
          else if (c === CLOSE_BRACKET) this.mode = Mode.AfterDocument;
          else this.fail(`expected "," or "]" after element ${this.elementCount}`, i);
          break;
        case Mode.AfterDocument:
          if (!isJsonWhitespace(c)) this.fail('unexpected content after the end of the JSON document', i);
          break;
      }
    }
    if (this.mode === Mode.InValue) this.element.hold(chunk.subarray(start));
    this.offset += length;
  }

  /** Throws unless the document is complete. */
  end(out: Array<Buffer | null>): void {
    if (this.mode === Mode.InValue && this.scalar && !this.inString) {
      this.finishElement(Buffer.alloc(0), 0, 0, out);
    }
    if (this.mode !== Mode.AfterDocument) {
      this.fail(this.mode === Mode.BeforeDocument ? 'no JSON value found' : 'the file ends inside the JSON document', 0);
    }
  }

  /**
   * Most bytes of a JSON document are inside strings: jump from quote to quote
   * with the native indexOf, and count the backslashes before a quote to tell
   * an escaped one. A run of backslashes cut by the chunk's end carries over.
   */
  private findClosingQuote(chunk: Buffer, from: number): number {
    let pos = from;
    for (;;) {
      const quote = chunk.indexOf(QUOTE, pos);
      const end = quote === -1 ? chunk.length : quote;
      let backslashes = 0;
      while (end - backslashes - 1 >= pos && chunk[end - backslashes - 1] === BACKSLASH) backslashes++;
      const escapedNext = (backslashes & 1) === 1;
      if (quote === -1) {
        this.escaped = escapedNext;
        return -1;
      }
      if (!escapedNext) return quote;
      pos = quote + 1;
    }
  }

  private startElement(c: number, i: number): number {
    this.mode = Mode.InValue;
    this.scalar = c !== OPEN_BRACE && c !== OPEN_BRACKET;
    this.inString = c === QUOTE;
    this.escaped = false;
    if (!this.scalar) this.open(c);
    return i;
  }

  private open(c: number): void {
    if (this.closers.length < MAX_TRACKED_DEPTH) this.closers.push(c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
    else this.deepLevels++;
    if (this.closers.length + this.deepLevels > this.maxDepth && !this.element.dropped) this.element.drop();
  }

  private finishElement(chunk: Buffer, start: number, end: number, out: Array<Buffer | null>): void {
    const tooDeep = this.element.dropped;
    const bytes = this.element.finish(chunk.subarray(start, end));
    out.push(tooDeep ? null : bytes);
    this.elementCount++;
    this.mode = this.single ? Mode.AfterDocument : Mode.ExpectCommaOrEnd;
  }

  private fail(reason: string, i: number): never {
    throw new FileRejectedError('malformed_json', `${reason} at byte ${this.offset + i}`);
  }
}

/**
 * Rows of a JSON document: each element of a top-level array, or a single
 * top-level object as row 1. Non-object elements are rejected one by one; a
 * structural error fails the file after the elements before it are yielded.
 */
export async function* parseJsonRows(chunks: AsyncIterable<Buffer>, opts: JsonRowOptions): AsyncGenerator<ParsedRow> {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_RECORD_DEPTH;
  const splitter = new JsonElementSplitter(opts.maxRecordBytes, maxDepth);
  const elements: Array<Buffer | null> = [];
  let row = 0;
  let failure: unknown;
  const drain = function* (): Generator<ParsedRow> {
    for (const bytes of elements) {
      row++;
      yield bytes === null ? tooDeepRow(row, `element ${row}`, maxDepth) : jsonBytesToRow(row, bytes, opts.text, `element ${row}`);
    }
    elements.length = 0;
  };
  for await (const chunk of chunks) {
    try {
      splitter.push(chunk, elements);
    } catch (err) {
      failure = err;
    }
    yield* drain();
    if (failure !== undefined) throw failure;
  }
  try {
    splitter.end(elements);
  } catch (err) {
    failure = err;
  }
  yield* drain();
  if (failure !== undefined) throw failure;
}
