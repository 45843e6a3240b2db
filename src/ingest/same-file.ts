import type { JobItem, JobOutcome } from '../domain/model.js';
import type { IngestedFile } from '../storage/ports.js';
import { settledKey } from '../storage/object-keys.js';

/** Says on the job which earlier upload it repeats, and how to ingest it anyway. */
export function duplicateNotice(earlier: IngestedFile): string {
  return (
    `Same content (SHA-256) as file ${earlier.fileId}, already ingested by job ${earlier.jobId}: ` +
    'nothing was written. Upload it with ?force=true to ingest it again.'
  );
}

/**
 * The outcome of a job whose file repeats an ingested one: succeeded with nothing read or
 * written, its object kept under processed/ like any ingested file.
 */
export function duplicateOutcome(job: JobItem, earlier: IngestedFile): JobOutcome {
  return {
    status: 'succeeded',
    format: null,
    bytesRead: 0,
    rowsRead: 0,
    recordsWritten: 0,
    rowsRejected: 0,
    checkpointRow: 0,
    errors: [],
    notices: [duplicateNotice(earlier)],
    objectKey: settledKey(job.objectKey, 'processed'),
    duplicateOf: { fileId: earlier.fileId, jobId: earlier.jobId },
  };
}

/** A new job created already finished as a duplicate (the upload route found the earlier file). */
export function finishedDuplicateJob(job: JobItem, earlier: IngestedFile): JobItem {
  return { ...job, ...duplicateOutcome(job, earlier), startedAt: job.createdAt, finishedAt: job.createdAt };
}
