import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface EncodingChoice {
  encoding: TextEncoding;
  /** Bytes of byte order mark at the start of the content. */
  bomLength: number;
  notice: string;
}

/**
 * What the parsers learn about the text while it streams. Every parser works on
 * UTF-8 bytes; `invalidUtf8Seen` turns on once a byte sequence that is not UTF-8
 * has gone by, so the (rare) per-record encoding checks cost nothing on clean files.
 */
export interface TextState {
  invalidUtf8Seen: boolean;
}

export const ENCODING_SAMPLE_BYTES = 64 * 1024;

/**
 * BOM first (UTF-8, UTF-16 LE/BE); without one, UTF-8 if the sample is valid
 * UTF-8, else Windows-1252 (a superset of printable Latin-1) so that a legacy
 * export is decoded instead of being stored as mojibake. `complete` says the
 * sample is the whole content, so a sequence cut at its end is really invalid.
 */
export function detectEncoding(sample: Buffer, complete: boolean): EncodingChoice {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) {
    return { encoding: 'utf-8', bomLength: 3, notice: 'decoded as utf-8 (byte order mark removed)' };
  }
  if (sample[0] === 0xff && sample[1] === 0xfe) {
    return { encoding: 'utf-16le', bomLength: 2, notice: 'decoded as utf-16le (byte order mark)' };
  }
  if (sample[0] === 0xfe && sample[1] === 0xff) {
    return { encoding: 'utf-16be', bomLength: 2, notice: 'decoded as utf-16be (byte order mark)' };
  }
  const head = sample.subarray(0, ENCODING_SAMPLE_BYTES);
  const checked = complete && head.length === sample.length ? head : head.subarray(0, head.length - incompleteTailLength(head, 0));
  if (isUtf8(checked)) return { encoding: 'utf-8', bomLength: 0, notice: 'decoded as utf-8' };
  return {
    encoding: 'windows-1252',
    bomLength: 0,
    notice: 'decoded as windows-1252: the first 64 KiB are not valid UTF-8',
  };
}

/** Decode a sample for sniffing; a character cut at the end may come out as U+FFFD. */
export function decodeSample(sample: Buffer, choice: EncodingChoice): string {
  const body = sample.subarray(choice.bomLength);
  if (choice.encoding === 'utf-8') return body.toString('utf8');
  return iconv.decode(body, choice.encoding, { stripBOM: false });
}

function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 1;
}

/** Length of a trailing, not yet complete (but possibly valid) UTF-8 sequence. */
function incompleteTailLength(buf: Buffer, start: number): number {
  const stop = Math.max(start, buf.length - 4);
  for (let i = buf.length - 1; i >= stop; i--) {
    const b = buf[i]!;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      const tail = buf.length - i;
      return sequenceLength(b) > tail ? tail : 0;
    }
  }
  return 0;
}

/**
 * Validates UTF-8 chunk by chunk with the native `isUtf8`, carrying a sequence
 * cut by a chunk boundary into the next chunk.
 */
export class Utf8Validator {
  private carry: Buffer | undefined;

  /** False when the chunk (with what was carried into it) holds invalid UTF-8. */
  push(chunk: Buffer): boolean {
    let valid = true;
    let start = 0;
    if (this.carry) {
      const need = sequenceLength(this.carry[0]!) - this.carry.length;
      const take = Math.min(need, chunk.length);
      const joined = Buffer.concat([this.carry, chunk.subarray(0, take)]);
      if (take < need) {
        this.carry = joined;
        return true;
      }
      this.carry = undefined;
      valid = isUtf8(joined);
      start = take;
    }
    const tail = incompleteTailLength(chunk, start);
    const end = chunk.length - tail;
    if (end > start && !isUtf8(chunk.subarray(start, end))) valid = false;
    if (tail > 0) this.carry = Buffer.from(chunk.subarray(end));
    return valid;
  }

  /** False when the content ended inside a multi-byte sequence. */
  end(): boolean {
    const cut = this.carry !== undefined;
    this.carry = undefined;
    return !cut;
  }
}

/**
 * Turns the decompressed chunks into UTF-8 chunks without a BOM. UTF-8 input
 * passes through untouched (no copy, no re-encoding); invalid sequences are left
 * in place (they decode as U+FFFD) and flagged in `state` so that the parsers can
 * reject the records that hold them. Other encodings are transcoded with iconv-lite.
 */
export async function* toUtf8Chunks(
  chunks: AsyncIterable<Buffer>,
  choice: EncodingChoice,
  state: TextState,
  notices: string[],
): AsyncGenerator<Buffer> {
  let skip = choice.bomLength;
  if (choice.encoding !== 'utf-8') {
    const decoder = iconv.getDecoder(choice.encoding, { stripBOM: false });
    for await (const chunk of chunks) {
      const body = skip > 0 ? chunk.subarray(Math.min(skip, chunk.length)) : chunk;
      skip = Math.max(0, skip - chunk.length);
      const text = decoder.write(body);
      if (text.length > 0) yield Buffer.from(text, 'utf8');
    }
    const rest = decoder.end();
    if (rest) yield Buffer.from(rest, 'utf8');
    return;
  }
  const validator = new Utf8Validator();
  const flagInvalid = () => {
    if (!state.invalidUtf8Seen) {
      state.invalidUtf8Seen = true;
      notices.push('invalid UTF-8 found later in the file: records holding it are rejected with invalid_encoding');
    }
  };
  for await (const chunk of chunks) {
    const body = skip > 0 ? chunk.subarray(Math.min(skip, chunk.length)) : chunk;
    skip = Math.max(0, skip - chunk.length);
    if (body.length === 0) continue;
    if (!validator.push(body)) flagInvalid();
    yield body;
  }
  if (!validator.end()) flagInvalid();
}
