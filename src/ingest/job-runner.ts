import type { JobItem, JobProgress, ProjectItem } from '../domain/model.js';
import { isRetryableStorageError } from '../errors.js';
import { ErrorReport } from './pipeline/error-report.js';
import { finishJob } from './pipeline/finish-job.js';
import type { JobContext, JobRunnerDeps, RunResult } from './pipeline/job-context.js';
import { LeaseLostError, watchLease } from './pipeline/lease-watch.js';
import { runPass } from './pipeline/run-pass.js';

export type { JobRunnerDeps, RunResult } from './pipeline/job-context.js';

/**
 * Processes one claimed job: a pass over its file (see runPass), then finish, or, when
 * something outside the file stopped the pass, release the job for a later retry. A
 * row's id derives from (file, row), so a retried pass writes the same items.
 */
export class JobRunner {
  constructor(private readonly deps: JobRunnerDeps) {}

  async run(project: ProjectItem, job: JobItem, signal: AbortSignal): Promise<RunResult> {
    const ctx: JobContext = { deps: this.deps, project, job, signal };
    const report = await ErrorReport.create(job.id);
    const lease = watchLease(ctx);
    try {
      const pass = await runPass(ctx, report, lease);
      if (pass.end.kind === 'interrupted') return await settleInterruptedJob(ctx, pass.progress, report, pass.end.error);
      const failure = pass.end.kind === 'failed' ? pass.end.failure : undefined;
      try {
        return await finishJob(ctx, pass.progress, report, failure);
      } catch (error) {
        return await settleInterruptedJob(ctx, pass.progress, report, error);
      }
    } finally {
      lease.stop();
      await report.discard();
    }
  }
}

/**
 * A pass stopped by something other than the file: storage, shutdown, a lost lease. A job
 * that keeps failing this way for reasons other than storage outages is failed after
 * maxAttempts claims; otherwise it saves what is known to be stored and is released, for
 * the next poll (here or in another task) to resume.
 */
async function settleInterruptedJob(
  ctx: JobContext,
  progress: JobProgress,
  report: ErrorReport,
  error: unknown,
): Promise<RunResult> {
  const { control, owner, leaseMs, maxAttempts } = ctx.deps;
  const { project, job, signal } = ctx;
  if (error instanceof LeaseLostError) return { kind: 'lease_lost' };
  if (!signal.aborted && !isRetryableStorageError(error) && job.attempts >= maxAttempts) {
    const message = error instanceof Error ? error.message.slice(0, 300) : 'processing failed';
    return await finishJob(ctx, progress, report, { code: 'processing_failed', message });
  }
  await control.checkpointJob(project.id, job.id, owner, leaseMs, progress).catch(() => undefined);
  await control.releaseJob(project.id, job.id, owner).catch(() => undefined);
  return { kind: 'released', error };
}
