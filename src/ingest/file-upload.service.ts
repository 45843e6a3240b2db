import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newRecordId } from '../domain/ids.js';
import { AppError, errors } from '../errors.js';
import { incomingKey, sanitizeFileName } from '../storage/object-keys.js';
import type { ControlStore, JobItem, ObjectStore, ProjectItem } from '../storage/ports.js';
import { newJob } from './jobs.js';

export interface ReceivedFile {
  fileId: string;
  jobId: string;
  bytes: number;
  sha256: string;
  objectKey: string;
}

export interface ReceiveInput {
  project: ProjectItem;
  fileName: string;
  body: Readable;
  contentType?: string;
  signal?: AbortSignal;
}

/** Counts and hashes bytes as they pass, and fails the stream the moment it passes `limit`. */
export class CountingHasher extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(errors.payloadTooLarge(this.limit));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Receives an uploaded file: streams it into `incoming/<fileId>/<name>` of the project's
 * bucket with a size limit enforced inside the stream, and creates its queued job only
 * once the object is completely stored. A failure or a client that goes away leaves
 * neither object nor job behind.
 */
export class FileUploadService {
  constructor(
    private readonly objects: ObjectStore,
    private readonly jobs: ControlStore,
    private readonly maxFileBytes: number,
    private readonly onJobQueued: (job: JobItem) => void = () => undefined,
  ) {}

  async receive(input: ReceiveInput): Promise<ReceivedFile> {
    const fileId = newRecordId();
    const fileName = sanitizeFileName(input.fileName);
    const key = incomingKey(fileId, fileName);
    const counter = new CountingHasher(this.maxFileBytes);
    const abort = new AbortController();
    const onAbort = () => abort.abort(input.signal?.reason);
    input.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all([
        pipeline(input.body, counter, { signal: abort.signal }),
        this.objects.putStream(input.project.bucketName, key, counter, {
          contentType: input.contentType,
          // S3 metadata must be ASCII: the original name is kept URI-encoded.
          metadata: { 'original-name': encodeURIComponent(input.fileName.slice(0, 1024)) },
          signal: abort.signal,
        }),
      ]).catch((error: unknown) => {
        abort.abort(error);
        throw error;
      });
    } catch (error) {
      // Whatever stopped the upload, make sure no object is left under its key.
      await this.objects.delete(input.project.bucketName, key).catch(() => undefined);
      if (error instanceof AppError) throw error;
      if (input.signal?.aborted) throw new AppError(400, 'request_aborted', 'The upload was aborted by the client.');
      throw error;
    } finally {
      input.signal?.removeEventListener('abort', onAbort);
    }

    const sha256 = counter.digest();
    const head = await this.objects.head(input.project.bucketName, key);
    if (!head) throw errors.storageUnavailable(new Error('uploaded object not found'));
    const job = await this.jobs.createJob(
      newJob(input.project, {
        key,
        etag: head.etag ?? sha256,
        size: head.size,
        fileName: input.fileName.slice(0, 1024),
        contentType: input.contentType,
        sha256,
      }),
    );
    this.onJobQueued(job);
    return { fileId, jobId: job.id, bytes: counter.bytes, sha256, objectKey: key };
  }
}
