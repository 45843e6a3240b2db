import { Transform, addAbortSignal, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FileRejectedError } from './types.js';

/**
 * The file's content after gunzip, as chunks. A head is read up front for
 * detection and then replayed, so nothing is read twice and nothing is held
 * beyond the head.
 */
export interface ByteSource {
  compressed: boolean;
  /** Reads until the head holds at least `bytes` (or the content is exhausted) and returns it. */
  peek(bytes: number): Promise<Buffer>;
  /** True once the head holds the entire content. */
  readonly ended: boolean;
  /** Every chunk (head first) in order; iterate once. Breaking out releases the input. */
  chunks(): AsyncGenerator<Buffer>;
  /** Releases the input when the chunks will never be iterated. */
  close(): Promise<void>;
}

interface SourceOptions {
  maxDecompressedBytes: number;
  /** Decompressed bytes allowed per compressed byte read (past RATIO_CHECK_FLOOR_BYTES). */
  maxInflationRatio?: number;
  signal?: AbortSignal | undefined;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('file input must be a byte stream');
}

/** gunzip's own errors (truncated or corrupt data) mean the file is not valid gzip. */
function toFileError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new FileRejectedError('invalid_gzip', `the gzip data is truncated or corrupt (${(err as Error).message})`, {
      cause: err,
    });
  }
  return err;
}

/**
 * Inflation allowed by default: decompressed bytes per compressed byte. gzip cannot pass
 * about 1032:1, which is what a bomb of zeros reaches; customer files (CSV, JSON, XML of
 * real records) compress 3:1 to 20:1, and even a file of one row repeated stays far below
 * this. So the default refuses bombs within their first megabytes and no honest file.
 */
export const DEFAULT_MAX_INFLATION_RATIO = 400;

/**
 * The ratio is judged only past this many decompressed bytes: a small file may inflate as
 * much as it likes (a few kilobytes of zeros cost nothing), and the first compressed block
 * read says little about the ratio of the whole.
 */
export const RATIO_CHECK_FLOOR_BYTES = 16 * 1024 * 1024;

/**
 * Counts the decompressed bytes and fails the moment they pass the limit, or inflate past
 * `maxRatio` times the compressed bytes read so far; the error tears the whole pipeline
 * down, so reading the compressed input stops too. The ratio bound is what stops a bomb
 * early: a 12 MB gzip of 12 GB would otherwise keep a poller slot busy until the total
 * limit (tens of GiB) is reached.
 */
class DecompressedSizeGuard extends Transform {
  private total = 0;

  constructor(
    private readonly limit: number,
    private readonly maxRatio: number,
    private readonly compressedRead: () => number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.limit) {
      callback(
        new FileRejectedError(
          'decompressed_too_large',
          `the file decompresses to more than ${this.limit} bytes`,
        ),
      );
      return;
    }
    const compressed = Math.max(1, this.compressedRead());
    if (this.total > RATIO_CHECK_FLOOR_BYTES && this.total / compressed > this.maxRatio) {
      callback(
        new FileRejectedError(
          'decompressed_too_large',
          `the file inflates more than ${this.maxRatio} times (${this.total} bytes from the first ${compressed} compressed bytes): ` +
            'no data file compresses that well, a compression bomb does',
        ),
      );
      return;
    }
    callback(null, chunk);
  }
}

async function readRawHead(iterator: AsyncIterator<unknown>): Promise<{ parts: Buffer[]; done: boolean }> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < 2) {
    const next = await iterator.next();
    if (next.done) return { parts, done: true };
    const chunk = toBuffer(next.value);
    parts.push(chunk);
    length += chunk.length;
  }
  return { parts, done: false };
}

export async function openByteSource(input: Readable, opts: SourceOptions): Promise<ByteSource> {
  if (opts.signal) addAbortSignal(opts.signal, input);
  const rawIterator = input[Symbol.asyncIterator]();
  let rawHead: { parts: Buffer[]; done: boolean };
  try {
    rawHead = await readRawHead(rawIterator);
  } catch (err) {
    input.destroy();
    throw err;
  }
  // gzip is recognised by its magic bytes whatever the name or content type says.
  const first = rawHead.parts[0];
  const second = first && first.length > 1 ? first[1] : rawHead.parts[1]?.[0];
  const compressed = first?.[0] === 0x1f && second === 0x8b;

  let compressedRead = 0;
  async function* rawChunks(): AsyncGenerator<Buffer> {
    for (const part of rawHead.parts) {
      compressedRead += part.length;
      yield part;
    }
    if (rawHead.done) return;
    for await (const chunk of { [Symbol.asyncIterator]: () => rawIterator }) {
      const bytes = toBuffer(chunk);
      compressedRead += bytes.length;
      yield bytes;
    }
  }

  const maxRatio = opts.maxInflationRatio ?? DEFAULT_MAX_INFLATION_RATIO;
  const output = compressed ? new DecompressedSizeGuard(opts.maxDecompressedBytes, maxRatio, () => compressedRead) : undefined;
  let content: AsyncIterator<Buffer>;
  if (output) {
    // The guard is the pipeline's last stage: its readable side is what the
    // parsers pull, so backpressure reaches back to the input.
    const stages = pipeline(rawChunks(), createGunzip(), output, opts.signal ? { signal: opts.signal } : {});
    // Failures surface through `output` (pipeline destroys it with the error);
    // this only keeps a rejection from going unhandled after an early exit.
    stages.catch(() => undefined);
    content = output[Symbol.asyncIterator]();
  } else {
    content = rawChunks();
  }

  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;

  async function pull(): Promise<Buffer | undefined> {
    try {
      const next = await content.next();
      return next.done ? undefined : toBuffer(next.value);
    } catch (err) {
      throw toFileError(err);
    }
  }

  async function close(): Promise<void> {
    try {
      await content.return?.();
    } finally {
      input.destroy();
    }
  }

  return {
    compressed,
    get ended() {
      return ended;
    },
    async peek(bytes: number): Promise<Buffer> {
      try {
        while (!ended && headLength < bytes) {
          const chunk = await pull();
          if (chunk === undefined) ended = true;
          else {
            head.push(chunk);
            headLength += chunk.length;
          }
        }
      } catch (err) {
        await close().catch(() => undefined);
        throw err;
      }
      if (head.length > 1) head.splice(0, head.length, Buffer.concat(head, headLength));
      return head[0] ?? Buffer.alloc(0);
    },
    async *chunks(): AsyncGenerator<Buffer> {
      try {
        const replay = head.splice(0);
        for (const chunk of replay) yield chunk;
        if (ended) return;
        for (;;) {
          const chunk = await pull();
          if (chunk === undefined) return;
          yield chunk;
        }
      } finally {
        await close();
      }
    },
    close,
  };
}
