import { Transform, type TransformCallback } from 'node:stream';
import { MAX_ITEM_BYTES } from '../../domain/record-builder.js';
import { openRecordFile } from '../parsers/open-record-file.js';
import { FileRejectedError, type OpenedFile } from '../parsers/types.js';
import type { JobContext } from './job-context.js';
import { failJob, passOn, type JobFailed, type Passed } from './step-outcome.js';

/** Counts the bytes of the stored object as the parser consumes them (compressed bytes for gzip). */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** Step "read": the job's object as a stream whose consumed bytes are counted. */
export async function readJobObject(ctx: JobContext): Promise<ByteCounter> {
  const source = await ctx.deps.objects.getStream(ctx.job.bucket, ctx.job.objectKey);
  const counter = new ByteCounter();
  source.on('error', (error) => counter.destroy(error));
  source.pipe(counter);
  return counter;
}

/**
 * Step "open": detects compression, encoding and format. A file refused here (empty,
 * binary, a CSV header too large...) fails the job; anything else (storage, abort) is
 * thrown, for the runner to retry the job later.
 */
export async function openJobSource(ctx: JobContext, input: ByteCounter): Promise<Passed<OpenedFile> | JobFailed> {
  try {
    return passOn(
      await openRecordFile(input, {
        fileName: ctx.job.fileName,
        contentType: ctx.job.contentType,
        maxDecompressedBytes: ctx.deps.maxDecompressedBytes,
        maxInflationRatio: ctx.deps.maxInflationRatio,
        maxRecordBytes: MAX_ITEM_BYTES,
        maxDepth: ctx.deps.maxRecordDepth,
        signal: ctx.signal,
      }),
    );
  } catch (error) {
    if (error instanceof FileRejectedError) return failJob(error.code, error.message);
    throw error;
  }
}
