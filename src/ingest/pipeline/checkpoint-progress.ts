import type { JobProgress } from '../../domain/model.js';
import { hourOf } from '../../domain/overview.service.js';
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

/**
 * Checkpoints of one pass, on the checkpoint interval. Writes ask for one after each batch;
 * a timer asks too, because a job that writes nothing (every row rejected or resumed, or a
 * compression bomb inflating into blank lines) would otherwise show `bytesRead` 0 until it
 * ends. Checkpoints go out one after another, each reading the progress when its turn
 * comes, so a slow one never lands after a newer one and takes the job's progress back.
 */
export class ProgressCheckpoints {
  private lastAt = Date.now();
  private queue: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  /**
   * Records of the job already counted in the console's hourly ingest. A resumed pass
   * recounts the rows before its checkpoint without writing them again: they were counted
   * by the pass that wrote them.
   */
  private counted: number;

  constructor(
    private readonly ctx: JobContext,
    private readonly progress: () => JobProgress,
  ) {
    this.counted = ctx.job.recordsWritten ?? 0;
    // The timer's failures are left to the pass: its next write or checkpoint meets the same
    // storage, and the lease watch notes a lost lease.
    this.timer = setInterval(() => void this.saveIfDue().catch(() => undefined), ctx.deps.checkpointIntervalMs);
    this.timer.unref();
  }

  /** Saves the progress if the interval has passed since the last checkpoint. */
  saveIfDue(): Promise<void> {
    if (!isCheckpointDue(this.ctx, this.lastAt)) return Promise.resolve();
    this.lastAt = Date.now();
    const saved = this.queue.then(async () => {
      const progress = this.progress();
      await checkpointProgress(this.ctx, progress);
      await this.countIngested(progress);
    });
    this.queue = saved.catch(() => undefined);
    return saved;
  }

  /** Stops the timer and waits for a checkpoint in flight, so none lands after the job is finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.queue;
    await this.countIngested(this.progress());
  }

  /**
   * Adds the records written since the last count to the project's hourly counter: one
   * write per checkpoint window, never per record. Best effort: the chart may miss a window
   * when storage fails, the job must not.
   */
  private async countIngested(progress: JobProgress): Promise<void> {
    const added = progress.recordsWritten - this.counted;
    if (added <= 0) return;
    this.counted = progress.recordsWritten;
    try {
      await this.ctx.deps.control.activity.addIngested(this.ctx.project.id, hourOf(Date.now()), added);
    } catch {
      // Counted as written anyway: a retry at the next checkpoint could count it twice.
    }
  }
}
