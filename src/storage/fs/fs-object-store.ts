import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { errors } from '../../errors.js';
import { assertSafeKey } from '../object-keys.js';
import type { ObjectInfo, ObjectStore, PutObjectOptions } from '../ports.js';

const PAGE_SIZE = 1000;
/** Work files live beside the objects but never show in listings. */
const TMP_DIR = '.tmp';
const META_DIR = '.meta';

/**
 * File system failures that say "the disk cannot take this now" (full, over quota, out of
 * descriptors, failing): the same 503 storage_unavailable as an S3 outage, so an upload is
 * refused with Retry-After and a job is released for a later retry instead of failing.
 */
const UNAVAILABLE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

function toObjectStoreError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && UNAVAILABLE_CODES.has(code) ? errors.storageUnavailable(error) : error;
}

interface Sidecar {
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * Objects as plain files under `<root>/<bucket>/<key>`, for the embedded mode. A file
 * dropped into `<root>/<bucket>/incoming/` is picked up by the poller like an S3 object.
 * Writes go to a temporary file that is fsynced and renamed into place, so a reader
 * never sees half an object and a failed write leaves nothing behind.
 */
export class FsObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  private bucketDir(bucket: string): string {
    if (!/^[a-z0-9][a-z0-9.-]{1,62}$/.test(bucket)) throw errors.internal(new Error('bad bucket name'));
    return path.join(this.root, bucket);
  }

  private objectPath(bucket: string, key: string): string {
    return path.join(this.bucketDir(bucket), assertSafeKey(key));
  }

  private metaPath(bucket: string, key: string): string {
    return path.join(this.bucketDir(bucket), META_DIR, `${assertSafeKey(key)}.json`);
  }

  async ensureBucket(bucket: string): Promise<void> {
    await fs.mkdir(this.bucketDir(bucket), { recursive: true }).catch((error: unknown) => {
      throw toObjectStoreError(error);
    });
  }

  async putStream(bucket: string, key: string, body: Readable, options: PutObjectOptions = {}): Promise<void> {
    const target = this.objectPath(bucket, key);
    const tmpDir = path.join(this.bucketDir(bucket), TMP_DIR);
    await fs.mkdir(tmpDir, { recursive: true }).catch((error: unknown) => {
      throw toObjectStoreError(error);
    });
    const tmp = path.join(tmpDir, randomUUID());
    const meta = this.metaPath(bucket, key);
    let sidecarWritten = false;
    try {
      // 1 MiB of buffer (not 16 KiB) lets socket reads go on while a disk write is running.
      const out = createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 });
      await writeBody(body, out, options.signal);
      const handle = await fs.open(tmp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (options.contentType !== undefined || options.metadata !== undefined) {
        const sidecar: Sidecar = { contentType: options.contentType, metadata: options.metadata };
        await fs.mkdir(path.dirname(meta), { recursive: true });
        sidecarWritten = true;
        await fs.writeFile(meta, JSON.stringify(sidecar));
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      if (sidecarWritten) await fs.rm(meta, { force: true });
      throw toObjectStoreError(error);
    }
  }

  async getStream(bucket: string, key: string, options: { start?: number } = {}): Promise<Readable> {
    const file = this.objectPath(bucket, key);
    // Open first so a missing object fails here rather than later in the consumer.
    const handle = await fs.open(file, 'r');
    // The stream must own the FileHandle itself: given only `handle.fd`, the unreferenced
    // handle closes that descriptor again on garbage collection, by then perhaps another file's.
    return handle.createReadStream({ start: options.start ?? 0, autoClose: true });
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | null> {
    try {
      const stat = await fs.stat(this.objectPath(bucket, key));
      if (!stat.isFile()) return null;
      const sidecar = await this.readSidecar(bucket, key);
      // Files have no ETag; mtime and size identify a version well enough to tell a re-dropped file apart.
      const etag = `"${Math.trunc(stat.mtimeMs).toString(36)}-${stat.size.toString(36)}"`;
      return { key, size: stat.size, lastModified: stat.mtime, etag, ...sidecar };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async *list(bucket: string, prefix: string): AsyncIterable<ObjectInfo[]> {
    const base = this.bucketDir(bucket);
    const keys: string[] = [];
    // Only walk the directory the prefix points into, not the whole bucket.
    const slash = prefix.lastIndexOf('/');
    const startDir = slash >= 0 ? prefix.slice(0, slash + 1) : '';
    await walk(base, startDir, keys);
    const matching = keys.filter((k) => k.startsWith(prefix)).sort();
    for (let i = 0; i < matching.length; i += PAGE_SIZE) {
      const page: ObjectInfo[] = [];
      for (const key of matching.slice(i, i + PAGE_SIZE)) {
        const info = await this.head(bucket, key);
        if (info) page.push(info);
      }
      yield page;
    }
    if (matching.length === 0) yield [];
  }

  async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    try {
      await this.moveFile(bucket, fromKey, toKey);
    } catch (error) {
      throw toObjectStoreError(error);
    }
  }

  private async moveFile(bucket: string, fromKey: string, toKey: string): Promise<void> {
    const from = this.objectPath(bucket, fromKey);
    const to = this.objectPath(bucket, toKey);
    await fs.mkdir(path.dirname(to), { recursive: true });
    try {
      await fs.rename(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && (await this.head(bucket, toKey))) return;
      throw error;
    }
    // Dated by the move, as S3 dates a copy: the processed/ retention counts from here.
    const now = new Date();
    await fs.utimes(to, now, now).catch(() => undefined);
    const meta = this.metaPath(bucket, fromKey);
    const toMeta = this.metaPath(bucket, toKey);
    await fs.mkdir(path.dirname(toMeta), { recursive: true });
    await fs.rename(meta, toMeta).catch(() => undefined);
    await removeEmptyParents(path.dirname(from), this.bucketDir(bucket));
    await removeEmptyParents(path.dirname(meta), this.bucketDir(bucket));
  }

  async delete(bucket: string, key: string): Promise<void> {
    const file = this.objectPath(bucket, key);
    await fs.rm(file, { force: true });
    const meta = this.metaPath(bucket, key);
    await fs.rm(meta, { force: true });
    await removeEmptyParents(path.dirname(file), this.bucketDir(bucket));
    await removeEmptyParents(path.dirname(meta), this.bucketDir(bucket));
  }

  async emptyBucket(bucket: string): Promise<number> {
    const keys: string[] = [];
    await walk(this.bucketDir(bucket), '', keys);
    const page = keys.slice(0, PAGE_SIZE);
    for (const key of page) await this.delete(bucket, key);
    return page.length;
  }

  /** Takes the bucket's folder with whatever is left in it (sidecars, partial uploads). */
  async deleteBucket(bucket: string): Promise<void> {
    await fs.rm(this.bucketDir(bucket), { recursive: true, force: true });
  }

  async ping(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await fs.access(this.root, fs.constants.W_OK);
  }

  private async readSidecar(bucket: string, key: string): Promise<Sidecar> {
    try {
      return JSON.parse(await fs.readFile(this.metaPath(bucket, key), 'utf8')) as Sidecar;
    } catch {
      return {};
    }
  }
}

/**
 * Copies `body` into `out` and ends it, as `pipeline` would, except for what a failed write
 * does to `body`: pipeline destroys it with the raw errno error, which reaches the caller
 * first through the body's other end (an upload's request stream, torn down, looks like a
 * client abort). Here `body` is destroyed with the error this store throws (a full disk:
 * 503 storage_unavailable), so every side of the caller sees the same failure.
 */
async function writeBody(body: Readable, out: WriteStream, signal?: AbortSignal): Promise<void> {
  let writeError: unknown;
  const onError = (error: unknown) => {
    writeError ??= error;
  };
  out.on('error', onError);
  // An abort ends the wait for the body's next chunk too, as pipeline's signal does.
  if (signal) addAbortSignal(signal, body);
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      signal?.throwIfAborted();
      if (writeError !== undefined) throw writeError;
      if (!out.write(chunk)) await once(out, 'drain', { signal });
    }
    if (writeError !== undefined) throw writeError;
    out.end();
    await finished(out, { signal });
  } catch (error) {
    const failure = toObjectStoreError(writeError ?? error);
    out.destroy();
    body.destroy(failure instanceof Error ? failure : undefined);
    throw failure;
  }
  // The listener stays: a destroyed stream may still report its failed write.
}

async function walk(base: string, relDir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(path.join(base, relDir), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    if (relDir === '' && (entry.name === TMP_DIR || entry.name === META_DIR)) continue;
    const rel = `${relDir}${entry.name}`;
    if (entry.isDirectory()) await walk(base, `${rel}/`, out);
    else if (entry.isFile()) out.push(rel);
  }
}

/** Keeps `incoming/` tidy: directories emptied by a move or delete are removed. */
async function removeEmptyParents(dir: string, stopAt: string): Promise<void> {
  let current = dir;
  while (current.startsWith(stopAt) && current !== stopAt) {
    try {
      await fs.rmdir(current);
    } catch {
      return;
    }
    current = path.dirname(current);
  }
}
