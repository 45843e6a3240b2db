import { DEFAULT_MAX_RECORD_DEPTH, JsonDepthTracker, tooDeepRow } from './depth-guard.js';
import { ElementBuffer } from './element-buffer.js';
import { jsonBytesToRow } from './json-record.js';
import type { TextState } from './text-encoding.js';
import type { ParsedRow } from './types.js';

export interface NdjsonRowOptions {
  maxRecordBytes: number;
  /** Nesting allowed in one line's value; a deeper line is rejected alone (too_deep). */
  maxDepth?: number;
  text: TextState;
}

function isBlankLine(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Splits the UTF-8 bytes on '\n' (a '\r' before it is JSON whitespace) without
 * decoding anything but the lines themselves. A partial line is held in an
 * ElementBuffer, which fails the file as soon as it passes maxRecordBytes, so a
 * huge line without a newline never grows memory past the limit.
 *
 * Numbering: blank lines are skipped and are not records, so `row` is the
 * ordinal among non-blank lines; messages quote the physical line number.
 */
export async function* parseNdjsonRows(chunks: AsyncIterable<Buffer>, opts: NdjsonRowOptions): AsyncGenerator<ParsedRow> {
  let lineNumber = 0;
  let row = 0;
  const line = new ElementBuffer(opts.maxRecordBytes, () => `line ${lineNumber + 1}`);
  const depth = new JsonDepthTracker(opts.maxDepth ?? DEFAULT_MAX_RECORD_DEPTH);

  /** Follows the line's nesting as it comes; a line found too deep is no longer held. */
  const watchDepth = (chunk: Buffer, start: number, end: number): void => {
    if (!line.dropped && depth.feed(chunk, start, end)) line.drop();
  };

  const lineToRow = (bytes: Buffer): ParsedRow | undefined => {
    lineNumber++;
    if (depth.exceeded) {
      depth.reset();
      row++;
      return tooDeepRow(row, `line ${lineNumber}`, depth.limit);
    }
    depth.reset();
    // Fast path: an object line starts with '{'; anything else gets the full blank check.
    if (bytes[0] !== 0x7b && isBlankLine(bytes)) return undefined;
    row++;
    return jsonBytesToRow(row, bytes, opts.text, `line ${lineNumber}`);
  };

  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) break;
      watchDepth(chunk, start, newline);
      const parsed = lineToRow(line.finish(chunk.subarray(start, newline)));
      if (parsed) yield parsed;
      start = newline + 1;
    }
    if (start < chunk.length) {
      watchDepth(chunk, start, chunk.length);
      line.hold(chunk.subarray(start));
    }
  }
  if (line.size > 0 || line.dropped) {
    const parsed = lineToRow(line.take());
    if (parsed) yield parsed;
  }
}
