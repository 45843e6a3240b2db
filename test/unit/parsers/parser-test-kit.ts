import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import {
  FileRejectedError,
  openRecordFile,
  type OpenOptions,
  type OpenedFile,
  type ParsedRow,
} from '../../../src/ingest/parsers/index.js';

export const MiB = 1024 * 1024;

export const LIMITS = { maxDecompressedBytes: 64 * MiB, maxRecordBytes: 1 * MiB } as const;

/** A stream that delivers the parts as separate chunks (to exercise chunk boundaries). */
export function streamOf(...parts: Array<string | Buffer>): Readable {
  return Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** Splits content into chunks of `size` bytes. */
export function chunked(content: string | Buffer, size: number): Readable {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

export function gz(content: string | Buffer): Buffer {
  return gzipSync(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
}

export interface Outcome {
  file: OpenedFile;
  rows: ParsedRow[];
  /** Objects of the ok rows, parsed back from their JSON text. */
  records: unknown[];
  rejected: Array<Extract<ParsedRow, { ok: false }>>;
  error: FileRejectedError | undefined;
}

/** Opens and reads everything; a FileRejectedError from the rows is captured, not thrown. */
export async function readAll(input: Readable, opts: Partial<OpenOptions> = {}): Promise<Outcome> {
  const file = await openRecordFile(input, { ...LIMITS, ...opts });
  const rows: ParsedRow[] = [];
  let error: FileRejectedError | undefined;
  try {
    for await (const row of file.rows) rows.push(row);
  } catch (err) {
    if (!(err instanceof FileRejectedError)) throw err;
    error = err;
  }
  return {
    file,
    rows,
    records: rows.flatMap((r) => (r.ok ? [JSON.parse(r.data) as unknown] : [])),
    rejected: rows.flatMap((r) => (r.ok ? [] : [r])),
    error,
  };
}

export async function readText(content: string | Buffer, opts: Partial<OpenOptions> = {}): Promise<Outcome> {
  return readAll(streamOf(typeof content === 'string' ? content : content), opts);
}

/** The rejection of `openRecordFile` itself. */
export async function openError(input: Readable, opts: Partial<OpenOptions> = {}): Promise<FileRejectedError> {
  try {
    await openRecordFile(input, { ...LIMITS, ...opts });
  } catch (err) {
    if (err instanceof FileRejectedError) return err;
    throw err;
  }
  throw new Error('expected openRecordFile to reject');
}

let collectGarbage: (() => void) | undefined;

/** A real full GC, so heap figures measure what is retained rather than what is merely not yet collected. */
export function forceGc(): void {
  if (!collectGarbage) {
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as () => void;
  }
  collectGarbage();
}

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/** A Readable over a generator, counting the bytes it hands out. */
export function countingStream(generate: () => Generator<Buffer>): { stream: Readable; bytesRead: () => number } {
  let total = 0;
  const stream = Readable.from(
    (function* () {
      for (const chunk of generate()) {
        total += chunk.length;
        yield chunk;
      }
    })(),
  );
  return { stream, bytesRead: () => total };
}
