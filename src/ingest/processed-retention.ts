import type { ProjectItem } from '../domain/model.js';
import { PREFIXES } from '../storage/object-keys.js';
import type { ObjectStore } from '../storage/ports.js';

const DAY_MS = 86_400_000;
/** Objects one sweep deletes at most (across projects); the next sweep goes on. */
const DEFAULT_MAX_DELETES = 1000;
const DEFAULT_INTERVAL_MS = 3_600_000;

export interface ProcessedRetentionOptions {
  /** INTAKE_PROCESSED_RETENTION_DAYS; 0 keeps everything (the sweep does nothing). */
  days: number;
  intervalMs?: number;
  maxDeletes?: number;
  /** The prefix swept (default processed/); export jobs' objects are swept under exports/ the same way. */
  prefix?: string;
  onSwept?: (deleted: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * The embedded mode's stand-in for the S3 lifecycle rule: deletes ingested uploads under
 * processed/ that reached processed/ more than `days` ago, in bounded batches, every
 * `intervalMs`. Failed uploads (failed/) are kept for inspection, as in S3.
 */
export class ProcessedRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly objects: ObjectStore,
    private readonly projects: () => AsyncIterable<ProjectItem>,
    private readonly options: ProcessedRetentionOptions,
  ) {}

  start(): void {
    if (this.options.days <= 0 || this.timer) return;
    const tick = () => {
      this.running ??= this.sweepOnce()
        .then((deleted) => {
          if (deleted > 0) this.options.onSwept?.(deleted);
          return deleted;
        })
        .catch((error: unknown) => {
          this.options.onError?.(error);
          return 0;
        })
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep: returns how many objects it deleted (at most maxDeletes). */
  async sweepOnce(now = Date.now()): Promise<number> {
    if (this.options.days <= 0) return 0;
    const cutoff = now - this.options.days * DAY_MS;
    const max = this.options.maxDeletes ?? DEFAULT_MAX_DELETES;
    let deleted = 0;
    for await (const project of this.projects()) {
      if (project.deletion !== undefined) continue;
      for await (const page of this.objects.list(project.bucketName, this.options.prefix ?? PREFIXES.processed)) {
        for (const object of page) {
          if (object.lastModified.getTime() >= cutoff) continue;
          await this.objects.delete(project.bucketName, object.key);
          if (++deleted >= max) return deleted;
        }
      }
    }
    return deleted;
  }
}
