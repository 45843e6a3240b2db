import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { AppError } from '../../../src/errors.js';

/** A fresh lowercase name, valid as a bucket and a table name, so suites never share state. */
export function freshName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A stream of `total` pseudo-random bytes in 64 KiB chunks, produced lazily. */
export function byteStream(total: number, seed = 1): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let state = seed;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(64 * 1024, total - sent);
      const chunk = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        chunk[i] = state >>> 24;
      }
      hash.update(chunk);
      sent += size;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.copy().digest('hex') };
}

/** Emits `beforeError` bytes, then fails as a dropped client connection would. */
export function failingStream(beforeError: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= beforeError) {
        this.destroy(new Error('client connection reset'));
        return;
      }
      const size = Math.min(64 * 1024, beforeError - sent);
      sent += size;
      this.push(Buffer.alloc(size, 0x61));
    },
  });
}

/** Emits one chunk and then nothing, like a client that stalls mid-upload. */
export function stallingStream(): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (!pushed) {
        pushed = true;
        this.push(Buffer.alloc(1024, 0x62));
      }
    },
  });
}

export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function appErrorCode(error: unknown): string | undefined {
  return error instanceof AppError ? error.code : undefined;
}
