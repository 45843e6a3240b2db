import type { JobOutcome, JobProgress } from '../../domain/model.js';
import { errorReportKey, settledKey } from '../../storage/object-keys.js';
import type { ErrorReport } from './error-report.js';
import type { JobContext, RunResult } from './job-context.js';
import type { JobFailure } from './step-outcome.js';

/** A failed pass may have written rows it never checkpointed: they are real records, and counted. */
export function jobStatusOf(progress: JobProgress, failure: JobFailure | undefined): JobOutcome['status'] {
  if (failure) return 'failed';
  if (progress.rowsRejected === 0) return 'succeeded';
  return progress.recordsWritten > 0 ? 'partial' : 'failed';
}

/**
 * Step "finish": uploads the error report, records the job's outcome, then moves the
 * object to processed/ or failed/. The job records its outcome before the object moves:
 * a crash in between leaves an object whose finished job tells the next poll where to
 * move it.
 */
export async function finishJob(
  ctx: JobContext,
  progress: JobProgress,
  report: ErrorReport,
  failure: JobFailure | undefined,
): Promise<RunResult> {
  const { objects, control, owner } = ctx.deps;
  const { project, job } = ctx;
  const status = jobStatusOf(progress, failure);
  const reportKey = report.count > 0 ? errorReportKey(job.id) : undefined;
  const outcome: JobOutcome = {
    ...progress,
    status,
    failure:
      failure ?? (status === 'failed' ? { code: 'all_rows_rejected', message: 'No row of the file was valid.' } : undefined),
    objectKey: settledKey(job.objectKey, status === 'failed' ? 'failed' : 'processed'),
    errorReportKey: reportKey,
  };
  if (reportKey !== undefined) await report.upload(objects, project.bucketName, reportKey);
  // Remembered before the job finishes: a failure here retries the job, never leaves an
  // ingested file that a later upload of the same bytes would not be told about.
  if (job.sha256 !== undefined && (status === 'succeeded' || status === 'partial')) {
    await control.rememberIngestedFile(project.id, job.sha256, { fileId: job.fileId, jobId: job.id });
  }
  if (!(await control.finishJob(project.id, job.id, owner, outcome))) return { kind: 'lease_lost' };
  if (await objects.head(project.bucketName, job.objectKey)) {
    await objects.move(project.bucketName, job.objectKey, outcome.objectKey);
  }
  return { kind: 'finished', job: { ...job, ...outcome }, outcome };
}
