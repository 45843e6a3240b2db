import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newRecordId } from '../domain/ids.js';
import { AppError, errors } from '../errors.js';
import { incomingKey, sanitizeFileName } from '../storage/object-keys.js';
import type { JobItem, ProjectItem } from '../domain/model.js';
import type { ControlStore, IngestedFile, ObjectStore } from '../storage/ports.js';
import { FileCatalog, type FileRetention } from './file-catalog.js';
import { HashThread, type ThreadedSha256 } from './hash-thread.js';
import { newJob } from './jobs.js';
import { duplicateOutcome, finishedDuplicateJob } from './same-file.js';

/** Lease the upload route takes on a job the poller created first, to finish it as a duplicate. */
const DUPLICATE_LEASE_MS = 60_000;

export interface ReceivedFile {
  fileId: string;
  jobId: string;
  bytes: number;
  sha256: string;
  objectKey: string;
}

/** An uploaded object that is completely stored but has no job yet. */
export interface StoredFile {
  fileId: string;
  bucket: string;
  key: string;
  bytes: number;
  /** Size as the store reports it. */
  size: number;
  sha256: string;
  etag: string;
  fileName: string;
  contentType?: string;
}

export interface QueueOptions {
  /** Ingest the file even when the project already ingested the same content. */
  force?: boolean;
}

export interface ReceiveInput extends QueueOptions {
  project: ProjectItem;
  fileName: string;
  body: Readable;
  contentType?: string;
  signal?: AbortSignal;
}

const MAX_ORIGINAL_NAME = 1024;

/** At most `max` UTF-16 units of `name`, never ending in half of a surrogate pair. */
function namePrefix(name: string, max: number): string {
  const cut = name.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * The original name as S3 metadata, which must be ASCII and may take 2 KB per object in
 * all: URI-encoded and cut at a whole character so the encoded value stays under 1 KB.
 */
function originalNameMetadata(name: string): string {
  let encoded = '';
  for (const char of name) {
    let piece: string;
    try {
      piece = encodeURIComponent(char);
    } catch {
      piece = '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
    if (encoded.length + piece.length > MAX_ORIGINAL_NAME) break;
    encoded += piece;
  }
  return encoded;
}

/**
 * Counts and hashes bytes as they pass, and fails the stream the moment it passes `limit`.
 * The hashing runs on the hash thread; a chunk goes on at once, and the next is taken
 * only while that thread keeps up.
 */
export class CountingHasher extends Transform {
  bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly hash: ThreadedSha256,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(errors.payloadTooLarge(this.limit));
      return;
    }
    const behind = this.hash.update(chunk);
    this.push(chunk);
    if (behind) behind.then(() => callback(), callback);
    else callback();
  }

  digest(): Promise<string> {
    return this.hash.digest();
  }

  abandon(): void {
    this.hash.abandon();
  }
}

/**
 * Receives an uploaded file: streams it into `incoming/<fileId>/<name>` of the project's
 * bucket with a size limit enforced inside the stream, and creates its queued job only
 * once the object is completely stored. A failure or a client that goes away leaves
 * neither object nor job behind.
 */
export class FileUploadService {
  /** Reading back what was uploaded: the files list, downloads and error reports. */
  readonly catalog: FileCatalog;

  constructor(
    private readonly objects: ObjectStore,
    private readonly jobs: ControlStore,
    private readonly maxFileBytes: number,
    private readonly onJobQueued: (job: JobItem) => void = () => undefined,
    private readonly hashes: HashThread = new HashThread(),
    retention: FileRetention = {},
  ) {
    this.catalog = new FileCatalog(objects, jobs, retention);
  }

  /** Stops the hashing thread (it never keeps the process alive, but a clean stop ends it). */
  close(): Promise<void> {
    return this.hashes.close();
  }

  async receive(input: ReceiveInput): Promise<ReceivedFile> {
    return this.queue(input.project, await this.store(input), { force: input.force });
  }

  /**
   * Streams the file into its incoming key without creating its job: for multipart
   * requests, whose job is queued only once the whole request turned out valid.
   */
  async store(input: ReceiveInput): Promise<StoredFile> {
    const fileId = newRecordId();
    const fileName = sanitizeFileName(input.fileName);
    const key = incomingKey(fileId, fileName);
    const counter = new CountingHasher(this.maxFileBytes, this.hashes.sha256());
    const abort = new AbortController();
    const onAbort = () => abort.abort(input.signal?.reason);
    input.signal?.addEventListener('abort', onAbort, { once: true });
    let sha256: string;
    try {
      await Promise.all([
        pipeline(input.body, counter, { signal: abort.signal }),
        this.objects.putStream(input.project.bucketName, key, counter, {
          contentType: input.contentType,
          metadata: { 'original-name': originalNameMetadata(input.fileName) },
          signal: abort.signal,
        }),
      ]).catch((error: unknown) => {
        abort.abort(error);
        throw error;
      });
      sha256 = await counter.digest();
    } catch (error) {
      counter.abandon();
      // Whatever stopped the upload, make sure no object is left under its key.
      await this.objects.delete(input.project.bucketName, key).catch(() => undefined);
      if (error instanceof AppError) throw error;
      if (input.signal?.aborted) throw new AppError(400, 'request_aborted', 'The upload was aborted by the client.');
      throw error;
    } finally {
      input.signal?.removeEventListener('abort', onAbort);
    }

    const head = await this.objects.head(input.project.bucketName, key);
    if (!head) throw errors.storageUnavailable(new Error('uploaded object not found'));
    return {
      fileId,
      bucket: input.project.bucketName,
      key,
      bytes: counter.bytes,
      size: head.size,
      sha256,
      etag: head.etag ?? sha256,
      fileName: namePrefix(input.fileName, MAX_ORIGINAL_NAME),
      contentType: input.contentType,
    };
  }

  /**
   * Creates the queued job of a stored file (idempotent: a poller that found it first made
   * the same job). A file whose SHA-256 the project already ingested gets a job that is
   * finished at once, as a duplicate that writes nothing, unless `force` is set.
   */
  async queue(project: ProjectItem, stored: StoredFile, options: QueueOptions = {}): Promise<ReceivedFile> {
    let job: JobItem;
    let earlier: IngestedFile | null = null;
    try {
      earlier = options.force ? null : await this.jobs.findIngestedFile(project.id, stored.sha256);
      const fresh = newJob(project, {
        key: stored.key,
        etag: stored.etag,
        size: stored.size,
        fileName: stored.fileName,
        contentType: stored.contentType,
        sha256: stored.sha256,
      });
      if (options.force) fresh.force = true;
      job = await this.jobs.createJob(earlier ? finishedDuplicateJob(fresh, earlier) : fresh);
    } catch (error) {
      // The client is told the upload failed and will retry it: an object left here would
      // be found by the poller and ingested a second time under another file id.
      await this.discard(stored).catch(() => undefined);
      throw error;
    }
    if (earlier && job.duplicateOf === undefined) job = await this.finishAsDuplicate(project, job, earlier);
    if (job.duplicateOf !== undefined) {
      // Settled where an ingested file goes; a poll moves it if this fails.
      await this.objects.move(project.bucketName, stored.key, job.objectKey).catch(() => undefined);
    } else {
      this.onJobQueued(job);
    }
    return { fileId: stored.fileId, jobId: job.id, bytes: stored.bytes, sha256: stored.sha256, objectKey: stored.key };
  }

  /**
   * The poller found the object and created its job before this request did: finish that
   * job as a duplicate if no worker has claimed it yet. A worker that already runs it
   * ingests the file again (the rare race the README describes).
   */
  private async finishAsDuplicate(project: ProjectItem, job: JobItem, earlier: IngestedFile): Promise<JobItem> {
    const owner = `upload-${job.fileId}`;
    const claimed = await this.jobs.claimJob(project.id, job.id, owner, DUPLICATE_LEASE_MS);
    if (!claimed) return job;
    if (!(await this.jobs.finishJob(project.id, job.id, owner, duplicateOutcome(claimed, earlier)))) return job;
    return (await this.jobs.getJob(project.id, job.id)) ?? job;
  }

  /** Removes a stored file whose request failed after it was stored. */
  async discard(stored: StoredFile): Promise<void> {
    await this.objects.delete(stored.bucket, stored.key);
  }
}
