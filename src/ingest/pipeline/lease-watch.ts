import type { JobContext } from './job-context.js';

/** Another worker holds the job now: this pass must stop without writing or finishing. */
export class LeaseLostError extends Error {
  constructor() {
    super('the job lease was lost to another worker');
    this.name = 'LeaseLostError';
  }
}

export interface LeaseWatch {
  /** True once a renewal found the lease gone. */
  readonly lost: boolean;
  stop(): void;
}

/**
 * Keeps the lease alive while a slow write or a storage outage holds up checkpoints, and
 * notes when a renewal finds it taken, so the pass stops before its next write.
 */
export function watchLease(ctx: JobContext): LeaseWatch {
  const { control, owner, leaseMs } = ctx.deps;
  const watch = { lost: false, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    control
      .checkpointJob(ctx.project.id, ctx.job.id, owner, leaseMs)
      .then((ok) => {
        if (!ok) watch.lost = true;
      })
      .catch(() => undefined);
  }, Math.max(250, Math.floor(leaseMs / 3)));
  return watch;
}
