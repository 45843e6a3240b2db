import { jsonBytesToRow } from './json-record.js';
import type { TextState } from './text-encoding.js';
import { FileRejectedError, type ParsedRow } from './types.js';

export interface NdjsonRowOptions {
  maxRecordBytes: number;
  text: TextState;
}

function isBlankLine(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function tooLarge(line: number, limit: number): FileRejectedError {
  return new FileRejectedError('record_too_large', `line ${line} is longer than the record size limit of ${limit} bytes`);
}

/**
 * Splits the UTF-8 bytes on '\n' (a '\r' before it is JSON whitespace) without
 * decoding anything but the lines themselves. A partial line is held as a list
 * of slices and fails the file as soon as it passes maxRecordBytes, so a huge
 * line without a newline never grows memory past the limit.
 *
 * Numbering: blank lines are skipped and are not records, so `row` is the
 * ordinal among non-blank lines; messages quote the physical line number.
 */
export async function* parseNdjsonRows(chunks: AsyncIterable<Buffer>, opts: NdjsonRowOptions): AsyncGenerator<ParsedRow> {
  const limit = opts.maxRecordBytes;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let lineNumber = 0;
  let row = 0;

  const lineToRow = (line: Buffer): ParsedRow | undefined => {
    lineNumber++;
    // Fast path: an object line starts with '{'; anything else gets the full blank check.
    if (line[0] !== 0x7b && isBlankLine(line)) return undefined;
    row++;
    return jsonBytesToRow(row, line, opts.text, `line ${lineNumber}`);
  };

  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) break;
      let line = chunk.subarray(start, newline);
      if (pendingLength > 0) {
        pending.push(line);
        line = Buffer.concat(pending, pendingLength + line.length);
        pending = [];
        pendingLength = 0;
      }
      if (line.length > limit) throw tooLarge(lineNumber + 1, limit);
      const parsed = lineToRow(line);
      if (parsed) yield parsed;
      start = newline + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingLength += chunk.length - start;
      if (pendingLength > limit) throw tooLarge(lineNumber + 1, limit);
    }
  }
  if (pendingLength > 0) {
    const parsed = lineToRow(Buffer.concat(pending, pendingLength));
    if (parsed) yield parsed;
  }
}
