import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { decimalText, deterministicId } from '../domain/ids.js';
import { isRetryableStorageError } from '../errors.js';
import { MAX_ITEM_BYTES, storedRecordSize } from '../domain/records.service.js';
import { errorReportKey, settledKey } from '../storage/object-keys.js';
import type { JobItem, JobOutcome, JobProgress, ProjectItem, RowError, StoredRecord } from '../domain/model.js';
import type { ControlStore, ObjectStore, RecordStore } from '../storage/ports.js';
import { MAX_INLINE_ERRORS } from './jobs.js';
import { openRecordFile } from './parsers/open-record-file.js';
import { FileRejectedError } from './parsers/types.js';
import { WriteWindow } from './write-window.js';

/** Rows per write: one BatchWriteItem call (DynamoDB takes at most 25 puts in one). */
const BATCH_ROWS = 25;
/** Parallel BatchWriteItem calls per job when the deps do not say (INTAKE_WRITE_CONCURRENCY's default). */
const DEFAULT_WRITE_CONCURRENCY = 4;

export interface JobRunnerDeps {
  objects: ObjectStore;
  control: ControlStore;
  records: RecordStore;
  owner: string;
  leaseMs: number;
  maxDecompressedBytes: number;
  /** BatchWriteItem calls one job keeps in flight. */
  writeConcurrency?: number;
  /** How often a running job saves its progress (and proves it still holds the lease). */
  checkpointIntervalMs: number;
  /** A job that keeps failing for reasons other than storage outages is failed after this many claims. */
  maxAttempts: number;
}

export type RunResult =
  | { kind: 'finished'; job: JobItem; outcome: JobOutcome }
  | { kind: 'lease_lost' }
  | { kind: 'released'; error: unknown };

class LeaseLostError extends Error {}

/** Counts the bytes of the stored object as the parser consumes them (compressed bytes for gzip). */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * Processes one claimed job: read → parse → validate → write → checkpoint → finish.
 * Every pass re-reads the file from the start and recounts every row, but writes only
 * rows past the checkpoint, so counts are exact and each row is stored once whether the
 * job ran in one go or was resumed after a crash. A row's id derives from (file, row).
 */
export class JobRunner {
  constructor(private readonly deps: JobRunnerDeps) {}

  async run(project: ProjectItem, job: JobItem, signal: AbortSignal): Promise<RunResult> {
    const { control, owner, leaseMs } = this.deps;
    const progress: JobProgress = {
      format: job.format,
      bytesRead: 0,
      rowsRead: 0,
      recordsWritten: 0,
      rowsRejected: 0,
      checkpointRow: job.checkpointRow,
      errors: [],
      notices: [],
    };
    const report = await ErrorReport.create(job.id);
    let leaseLost = false;
    // Keeps the lease alive while a slow write or a storage outage holds up checkpoints.
    const renew = setInterval(() => {
      control
        .checkpointJob(project.id, job.id, owner, leaseMs)
        .then((ok) => {
          if (!ok) leaseLost = true;
        })
        .catch(() => undefined);
    }, Math.max(250, Math.floor(leaseMs / 3)));
    try {
      await this.processRows(project, job, progress, report, signal, () => leaseLost);
      return await this.finish(project, job, progress, report, undefined);
    } catch (error) {
      if (error instanceof FileRejectedError) {
        return await this.finish(project, job, progress, report, { code: error.code, message: error.message });
      }
      if (error instanceof LeaseLostError) return { kind: 'lease_lost' };
      if (!signal.aborted && !isRetryableStorageError(error) && job.attempts >= this.deps.maxAttempts) {
        const message = error instanceof Error ? error.message.slice(0, 300) : 'processing failed';
        return await this.finish(project, job, progress, report, { code: 'processing_failed', message });
      }
      // Save what is known to be stored, then let the next poll (here or in another task) resume.
      await control.checkpointJob(project.id, job.id, owner, leaseMs, progress).catch(() => undefined);
      await control.releaseJob(project.id, job.id, owner).catch(() => undefined);
      return { kind: 'released', error };
    } finally {
      clearInterval(renew);
      await report.discard();
    }
  }

  private async processRows(
    project: ProjectItem,
    job: JobItem,
    progress: JobProgress,
    report: ErrorReport,
    signal: AbortSignal,
    leaseLost: () => boolean,
  ): Promise<void> {
    const { objects, control, records, owner, leaseMs } = this.deps;
    const source = await objects.getStream(job.bucket, job.objectKey);
    const counter = new ByteCounter();
    source.on('error', (error) => counter.destroy(error));
    source.pipe(counter);
    const opened = await openRecordFile(counter, {
      fileName: job.fileName,
      contentType: job.contentType,
      maxDecompressedBytes: this.deps.maxDecompressedBytes,
      maxRecordBytes: MAX_ITEM_BYTES,
      signal,
    }).catch((error: unknown) => {
      // A file refused at open (empty, binary, a header too large) still says how much was read.
      progress.bytesRead = counter.bytes;
      throw error;
    });
    progress.format = opened.format;
    const ingestedAt = new Date().toISOString();
    const sourcePrefix = `{"type":"file","fileId":${JSON.stringify(job.fileId)},"jobId":${JSON.stringify(job.id)},"fileName":${JSON.stringify(job.fileName)},"row":`;

    let chunk: StoredRecord[] = [];
    let chunkLastRow = 0;
    // Batches are written while the next ones are parsed, always this many in flight, so
    // storage never waits on a slow batch at the end of a chunk. Checkpoints promise only
    // the rows through which every batch has finished.
    const writes = new WriteWindow(this.deps.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY, job.checkpointRow);
    let lastCheckpoint = Date.now();

    const reject = (row: number, code: string, message: string) => {
      progress.rowsRejected++;
      const error: RowError = { row, code, message: message.slice(0, 500) };
      if (progress.errors.length < MAX_INLINE_ERRORS) progress.errors.push(error);
      report.add(error);
    };
    const flush = async () => {
      if (leaseLost()) throw new LeaseLostError();
      const batch = chunk;
      chunk = [];
      await writes.add(() => records.putRecords(project.tableName, batch), chunkLastRow, () => {
        progress.recordsWritten += batch.length;
        progress.checkpointRow = Math.max(progress.checkpointRow, writes.storedThrough);
      });
      if (Date.now() - lastCheckpoint >= this.deps.checkpointIntervalMs) {
        progress.bytesRead = counter.bytes;
        progress.notices = [...opened.notices];
        if (!(await control.checkpointJob(project.id, job.id, owner, leaseMs, progress))) throw new LeaseLostError();
        lastCheckpoint = Date.now();
      }
    };

    try {
      await consume();
    } catch (error) {
      // Rows already handed to storage count (or, if one of those writes failed, its error wins).
      await writes.drain();
      progress.bytesRead = counter.bytes;
      progress.notices = [...opened.notices];
      throw error;
    }
    progress.bytesRead = counter.bytes;
    progress.notices = [...opened.notices];

    async function consume() {
      try {
        await consumeRows();
      } catch (error) {
        // A whole-file failure (a record too large, broken gzip...) comes after every row
        // before it: store the valid ones still in hand, so the failed job's counts add up
        // and a rerun of the same bytes gives the same records.
        if (error instanceof FileRejectedError && chunk.length > 0) await flush();
        throw error;
      }
      if (chunk.length > 0) await flush();
      await writes.drain();
    }

    async function consumeRows() {
      for await (const row of opened.rows) {
        if (signal.aborted) throw signal.reason ?? new Error('aborted');
        progress.rowsRead++;
        if (!row.ok) {
          reject(row.row, row.code, row.message);
          continue;
        }
        const record: StoredRecord = {
          id: deterministicId('row', job.fileId, row.row),
          data: row.data,
          source: `${sourcePrefix}${decimalText(row.row)}}`,
          ingestedAt,
        };
        if (storedRecordSize(record) > MAX_ITEM_BYTES) {
          reject(row.row, 'record_too_large', `The record exceeds DynamoDB's item limit of ${MAX_ITEM_BYTES} bytes.`);
          continue;
        }
        if (row.row <= job.checkpointRow) {
          // Stored by an earlier pass: count it, do not write it again.
          progress.recordsWritten++;
          continue;
        }
        chunk.push(record);
        chunkLastRow = row.row;
        if (chunk.length >= BATCH_ROWS) await flush();
      }
    }
  }

  private async finish(
    project: ProjectItem,
    job: JobItem,
    progress: JobProgress,
    report: ErrorReport,
    failure: { code: string; message: string } | undefined,
  ): Promise<RunResult> {
    const { objects, control, owner } = this.deps;
    // A partial pass (failure) may have written rows it never checkpointed; they are real records.
    const status = failure
      ? 'failed'
      : progress.rowsRejected === 0
        ? 'succeeded'
        : progress.recordsWritten > 0
          ? 'partial'
          : 'failed';
    const outcome: JobOutcome = {
      ...progress,
      status,
      failure:
        failure ?? (status === 'failed' ? { code: 'all_rows_rejected', message: 'No row of the file was valid.' } : undefined),
      objectKey: settledKey(job.objectKey, status === 'failed' ? 'failed' : 'processed'),
      errorReportKey: report.count > 0 ? errorReportKey(job.id) : undefined,
    };
    if (report.count > 0) await report.upload(objects, project.bucketName, outcome.errorReportKey!);
    // The job records its outcome before the object moves: a crash in between leaves an
    // object whose finished job tells the next poll where to move it.
    if (!(await control.finishJob(project.id, job.id, owner, outcome))) return { kind: 'lease_lost' };
    if (await objects.head(project.bucketName, job.objectKey)) {
      await objects.move(project.bucketName, job.objectKey, outcome.objectKey);
    }
    return { kind: 'finished', job: { ...job, ...outcome }, outcome };
  }
}

/** Every row error of a pass, as NDJSON in a temp file, uploaded as the job's error report. */
class ErrorReport {
  count = 0;
  private constructor(
    private readonly file: string,
    private readonly out: WriteStream,
  ) {}

  static async create(jobId: string): Promise<ErrorReport> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-report-'));
    const file = path.join(dir, `${jobId}.ndjson`);
    return new ErrorReport(file, createWriteStream(file));
  }

  add(error: RowError): void {
    this.count++;
    this.out.write(`${JSON.stringify(error)}\n`);
  }

  async upload(objects: ObjectStore, bucket: string, key: string): Promise<void> {
    this.out.end();
    await finished(this.out);
    await objects.putStream(bucket, key, createReadStream(this.file), { contentType: 'application/x-ndjson' });
  }

  async discard(): Promise<void> {
    if (!this.out.writableEnded) this.out.end();
    await finished(this.out).catch(() => undefined);
    await fs.rm(path.dirname(this.file), { recursive: true, force: true });
  }
}
