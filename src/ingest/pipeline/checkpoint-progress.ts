import type { JobProgress } from '../../domain/model.js';
import type { JobContext } from './job-context.js';
import { LeaseLostError } from './lease-watch.js';

export const isCheckpointDue = (ctx: JobContext, lastCheckpointAt: number, now = Date.now()): boolean =>
  now - lastCheckpointAt >= ctx.deps.checkpointIntervalMs;

/**
 * Step "checkpoint": saves the pass's progress on the job, which also renews the lease.
 * The progress promises only rows through which every write has finished, so a worker
 * resuming from it may skip them. Throws LeaseLostError when another worker holds the job.
 */
export async function checkpointProgress(ctx: JobContext, progress: JobProgress): Promise<void> {
  const { control, owner, leaseMs } = ctx.deps;
  if (!(await control.checkpointJob(ctx.project.id, ctx.job.id, owner, leaseMs, progress))) throw new LeaseLostError();
}
