import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BACKFILL_JOB_NAME } from '../domain/index-backfill.js';
import type { ProjectService } from '../domain/projects.service.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { PREFIXES, settledKey } from '../storage/object-keys.js';
import type { JobItem, ProjectItem } from '../domain/model.js';
import type { ControlStore, ObjectInfo, ObjectStore, RecordStore } from '../storage/ports.js';
import { JobRunner, type RunResult } from './job-runner.js';
import { jobIdFor, newJob } from './jobs.js';

export interface PollerOptions {
  intervalMs: number;
  /** Longest wait between polls when nothing is found (idle backoff). */
  maxIdleIntervalMs: number;
  concurrency: number;
  /** BatchWriteItem calls each job keeps in flight (INTAKE_WRITE_CONCURRENCY). */
  writeConcurrency?: number;
  leaseMs: number;
  maxDecompressedBytes: number;
  /** Nesting allowed in one record of a file (INTAKE_MAX_JSON_DEPTH); unset, the parsers' default. */
  maxRecordDepth?: number;
  /** gzip bomb guard (INTAKE_MAX_INFLATION_RATIO); unset, the parsers' default. */
  maxInflationRatio?: number;
  /** Days a refused row stays quarantined (INTAKE_QUARANTINE_RETENTION_DAYS); unset, 30. */
  quarantineRetentionDays?: number;
  /**
   * An object that appeared without the API is left alone until it is this old, so a
   * writer still copying it into place is not read half-way.
   */
  settleMs: number;
  /** How often a running job saves its progress (and proves it still holds the lease). */
  checkpointIntervalMs: number;
  /** Claims after which a job that keeps failing (storage outages aside) is failed. */
  maxAttempts: number;
  /** Age a queued job must reach before a missing object makes it an orphan (default 10 min). */
  orphanGraceMs?: number;
  /** How often the poller looks for orphaned jobs (default 5 min; the first poll looks too). */
  orphanSweepIntervalMs?: number;
}

const DEFAULT_ORPHAN_GRACE_MS = 10 * 60_000;
const DEFAULT_ORPHAN_SWEEP_INTERVAL_MS = 5 * 60_000;
/**
 * Jobs read per project in one orphan sweep (pages of 100): a sweep's cost stays bounded
 * whatever a project's history holds; the next sweep carries on from where this one stopped.
 */
const ORPHAN_SWEEP_PAGE = 100;
const ORPHAN_SWEEP_PAGES = 5;

export interface PollerDeps {
  objects: ObjectStore;
  control: ControlStore;
  records: RecordStore;
  projects: ProjectService;
  logger: Logger;
  metrics: Metrics;
  onJobFinished?: (job: JobItem) => void;
  /** A finished job that found field drift, in a project whose model asks for drift alerts (`driftAlerts`). */
  onFieldDrift?: (job: JobItem) => void;
  /** Takes up a project's deletion job when no worker holds its lease (ProjectDeletion.resume). */
  resumeDeletion?: (project: ProjectItem) => Promise<string>;
  /** Takes up an index backfill whose worker died (IndexBackfill.resume); settles when it has run. */
  resumeBackfill?: (project: ProjectItem, job: JobItem) => Promise<boolean>;
  /** Takes up the project's unfinished export jobs when no worker holds their lease (ExportJobs.resume). */
  resumeExports?: (project: ProjectItem) => void;
}

/**
 * The background poller: lists `incoming/` of every project bucket, creates a job for each
 * new object, claims jobs by lease and runs them, `concurrency` at a time. Many pollers in
 * many tasks can run at once; the lease decides who works on what.
 */
export class Poller {
  readonly owner = `poller-${randomUUID()}`;
  private readonly runner: JobRunner;
  private readonly running = new Map<string, Promise<void>>();
  /** Jobs running here per project, for the fair share of slots (mayClaim). */
  private readonly runningPerProject = new Map<string, number>();
  /** Where the next pass starts in the list of projects: each pass starts one further. */
  private passStart = 0;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private lastOrphanSweep = -Infinity;
  /** Per project, where the next orphan sweep continues in its jobs (newest first). */
  private readonly orphanCursors = new Map<string, string>();

  constructor(
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {
    this.runner = new JobRunner({
      objects: deps.objects,
      control: deps.control,
      records: deps.records,
      owner: this.owner,
      leaseMs: options.leaseMs,
      maxDecompressedBytes: options.maxDecompressedBytes,
      maxRecordDepth: options.maxRecordDepth,
      maxInflationRatio: options.maxInflationRatio,
      quarantineRetentionDays: options.quarantineRetentionDays,
      writeConcurrency: options.writeConcurrency,
      checkpointIntervalMs: options.checkpointIntervalMs,
      maxAttempts: options.maxAttempts,
    });
  }

  start(): void {
    this.loop ??= this.runLoop();
  }

  /** Polls now instead of at the next tick (a new upload arrived in this task). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops polling, lets running jobs checkpoint and release their leases, then resolves. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('poller stopping'));
    this.wakeUp?.();
    await this.loop;
    await Promise.allSettled(this.running.values());
  }

  private async runLoop(): Promise<void> {
    let delay = this.options.intervalMs;
    while (!this.abort.signal.aborted) {
      let found = 0;
      try {
        found = await this.pollOnce();
      } catch (error) {
        this.deps.logger.warn('poll failed', { event: 'poll_failed', error: String(error) });
      }
      // Idle pollers back off so they neither burn CPU nor flood storage with listings.
      delay = found > 0 ? this.options.intervalMs : Math.min(delay * 2, this.options.maxIdleIntervalMs);
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        sleep(delay, undefined, { signal: this.abort.signal }).then(resolve, resolve);
      });
      this.wakeUp = undefined;
      if (found > 0 || this.running.size > 0) delay = this.options.intervalMs;
    }
  }

  /**
   * One pass over every project; returns how many unfinished objects it saw. Projects are
   * visited from a different one each pass, so no project is always first in line for a
   * free slot.
   */
  async pollOnce(): Promise<number> {
    let found = 0;
    let oldest = 0;
    const projects: ProjectItem[] = [];
    for await (const project of this.deps.projects.all()) projects.push(project);
    const start = projects.length === 0 ? 0 : this.passStart++ % projects.length;
    for (const project of [...projects.slice(start), ...projects.slice(0, start)]) {
      // A project being deleted takes no new work; its deletion job is resumed if its worker died.
      if (project.deletion !== undefined) {
        this.resumeDeletion(project);
        continue;
      }
      this.deps.resumeExports?.(project);
      for await (const page of this.deps.objects.list(project.bucketName, PREFIXES.incoming)) {
        for (const object of page) {
          if (this.abort.signal.aborted) return found;
          const age = Date.now() - object.lastModified.getTime();
          const outcome = await this.consider(project, object);
          if (outcome === 'pending' || outcome === 'claimed') found++;
          // The lag is how long work waits for a worker; an object being worked on is not waiting.
          if (outcome === 'pending') oldest = Math.max(oldest, age);
        }
      }
    }
    this.deps.metrics.pollerLag.set(oldest / 1000);
    if (Date.now() - this.lastOrphanSweep >= (this.options.orphanSweepIntervalMs ?? DEFAULT_ORPHAN_SWEEP_INTERVAL_MS)) {
      this.lastOrphanSweep = Date.now();
      await this.reconcileOrphans(projects).catch((error: unknown) =>
        this.deps.logger.warn('orphan sweep failed', { event: 'orphan_sweep_failed', error: String(error) }),
      );
    }
    return found;
  }

  /**
   * A job whose object is gone (a multipart request refused after its file part was
   * stored, a job creation that timed out after it succeeded and whose upload was then
   * discarded) is never met by the listing of `incoming/`, so it would stay queued for good.
   * Each sweep reads a bounded number of every project's jobs and fails such jobs
   * `object_missing`.
   */
  async reconcileOrphans(projects: readonly ProjectItem[]): Promise<number> {
    let failed = 0;
    for (const project of projects) {
      // A project being deleted loses its objects on purpose; its jobs go with it.
      if (project.deletion !== undefined) continue;
      let after = this.orphanCursors.get(project.id);
      for (let page = 0; page < ORPHAN_SWEEP_PAGES; page++) {
        if (this.abort.signal.aborted) return failed;
        const jobs = await this.deps.control.listJobs(project.id, { limit: ORPHAN_SWEEP_PAGE, after });
        for (const job of jobs.items) {
          if (this.isStalledBackfill(job)) this.resumeBackfill(project, job);
          else if (this.mayBeOrphan(job) && (await this.failOrphan(project, job))) failed++;
        }
        after = jobs.next;
        if (after === undefined) break;
      }
      if (after === undefined) this.orphanCursors.delete(project.id);
      else this.orphanCursors.set(project.id, after);
    }
    return failed;
  }

  /** An index backfill left unfinished by a worker that died: its lease has expired. */
  private isStalledBackfill(job: JobItem): boolean {
    if (job.fileName !== BACKFILL_JOB_NAME || job.objectKey !== '') return false;
    if (job.status !== 'queued' && job.status !== 'running') return false;
    return job.leaseOwner === undefined || (job.leaseExpiresAt ?? 0) < Date.now();
  }

  /** Runs the backfill in the background, tracked like a file job so shutdown waits for it. */
  private resumeBackfill(project: ProjectItem, job: JobItem): void {
    const resume = this.deps.resumeBackfill;
    if (resume === undefined || this.running.has(job.id)) return;
    const run = resume(project, job).then(
      (resumed) => {
        if (resumed) this.deps.logger.info('index backfill resumed', { event: 'backfill_resumed', projectId: project.id, jobId: job.id });
      },
      (error: unknown) => {
        this.deps.logger.warn('index backfill not resumed', { event: 'backfill_paused', projectId: project.id, jobId: job.id, error: String(error) });
      },
    );
    this.running.set(job.id, run);
    void run.finally(() => this.running.delete(job.id));
  }

  /**
   * Unfinished file jobs (backfills and deletions have no object), nobody's lease on them,
   * and older than the grace period. The upload route stores the object before it creates
   * the job, so a young job whose object cannot be seen is more likely a read racing that
   * write (an S3-compatible store or emulator with read-after-write lag, another task's
   * clock running ahead) than an orphan; and the poller that finishes a job moves its object
   * away just then. Waiting costs nothing: an orphan does no harm but to look queued.
   */
  private mayBeOrphan(job: JobItem): boolean {
    const now = Date.now();
    if (job.status !== 'queued' && job.status !== 'running') return false;
    if (job.objectKey === '' || this.running.has(job.id)) return false;
    if (job.leaseOwner !== undefined && (job.leaseExpiresAt ?? 0) >= now) return false;
    return now - Date.parse(job.createdAt) >= (this.options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS);
  }

  /**
   * Fails the job `object_missing` if its object is still missing once this poller holds its
   * lease; the lease makes the verdict safe against a worker that takes the job meanwhile,
   * and a job finished meanwhile cannot be claimed at all.
   */
  private async failOrphan(project: ProjectItem, job: JobItem): Promise<boolean> {
    if (await this.deps.objects.head(job.bucket, job.objectKey)) return false;
    const claimed = await this.deps.control.claimJob(project.id, job.id, this.owner, this.options.leaseMs);
    if (!claimed) return false;
    if (await this.deps.objects.head(job.bucket, job.objectKey).catch(() => 'unknown' as const)) {
      await this.deps.control.releaseJob(project.id, job.id, this.owner);
      return false;
    }
    const finished = await this.deps.control.finishJob(project.id, job.id, this.owner, {
      format: claimed.format,
      bytesRead: claimed.bytesRead,
      rowsRead: claimed.rowsRead,
      recordsWritten: claimed.recordsWritten,
      rowsRejected: claimed.rowsRejected,
      checkpointRow: claimed.checkpointRow,
      errors: claimed.errors,
      notices: claimed.notices,
      status: 'failed',
      objectKey: claimed.objectKey,
      failure: {
        code: 'object_missing',
        message: 'The uploaded object of this job no longer exists (its upload was refused or discarded); upload the file again.',
      },
    });
    if (!finished) return false;
    this.deps.metrics.jobs.inc({ outcome: 'failed' });
    this.deps.logger.warn('job failed: its object no longer exists', {
      event: 'job_orphaned',
      projectId: project.id,
      jobId: job.id,
      key: job.objectKey,
    });
    const after = await this.deps.control.getJob(project.id, job.id);
    if (after) this.deps.onJobFinished?.(after);
    return true;
  }

  private resumeDeletion(project: ProjectItem): void {
    this.deps.resumeDeletion?.(project).then(
      (outcome) => {
        if (outcome === 'deleted') this.deps.logger.info('audit', { event: 'audit', action: 'project_deleted', actor: 'poller', projectId: project.id, jobId: project.deletion?.jobId });
      },
      (error: unknown) => this.deps.logger.warn('project deletion paused', { event: 'deletion_paused', projectId: project.id, error: String(error) }),
    );
  }

  /** `pending`: unfinished and waiting for a worker; `claimed`: under a lease, here or in another task. */
  private async consider(project: ProjectItem, object: ObjectInfo): Promise<'pending' | 'claimed' | 'settled' | 'skipped'> {
    // A key ending in "/" is a folder marker (the S3 console's "Create folder"), not a file.
    if (object.key.endsWith('/')) return 'skipped';
    const etag = object.etag ?? `${object.size}`;
    const jobId = jobIdFor(project.bucketName, object.key, etag);
    if (this.running.has(jobId)) return 'claimed';
    let job = await this.deps.control.getJob(project.id, jobId);
    if (!job) {
      if (Date.now() - object.lastModified.getTime() < this.options.settleMs) return 'pending';
      const head = await this.deps.objects.head(project.bucketName, object.key);
      if (!head) return 'skipped';
      const name = decodeName(head.metadata?.['original-name']) ?? object.key.split('/').pop() ?? 'file';
      job = await this.deps.control.createJob(
        newJob(project, { key: object.key, etag, size: object.size, fileName: name, contentType: head.contentType }),
      );
      this.deps.logger.info('job created for object', { event: 'job_created', projectId: project.id, jobId, key: object.key });
    }
    if (job.status === 'succeeded' || job.status === 'partial' || job.status === 'failed') {
      // Finished but not yet moved (a crash between the two): finish the move.
      const target = settledKey(object.key, job.status === 'failed' ? 'failed' : 'processed');
      await this.deps.objects.move(project.bucketName, object.key, target);
      return 'settled';
    }
    if (!this.mayClaim(project.id)) return 'pending';
    const claimed = await this.deps.control.claimJob(project.id, jobId, this.owner, this.options.leaseMs);
    if (!claimed) return 'claimed';
    this.runningPerProject.set(project.id, (this.runningPerProject.get(project.id) ?? 0) + 1);
    const work = this.execute(project, claimed).finally(() => {
      this.running.delete(jobId);
      const left = (this.runningPerProject.get(project.id) ?? 1) - 1;
      if (left > 0) this.runningPerProject.set(project.id, left);
      else this.runningPerProject.delete(project.id);
    });
    this.running.set(jobId, work);
    return 'claimed';
  }

  /**
   * Whether a job of this project may take a slot. The last free slot is kept for a project
   * that runs nothing here: otherwise one project's backlog (a few huge or hostile files)
   * fills every slot, and another project's two-row file waits for them all. With one slot
   * there is nothing to keep; with more, a busy project uses all but one.
   */
  private mayClaim(projectId: string): boolean {
    const free = this.options.concurrency - this.running.size;
    if (free <= 0) return false;
    if (this.options.concurrency === 1 || free > 1) return true;
    return (this.runningPerProject.get(projectId) ?? 0) === 0;
  }

  private async execute(project: ProjectItem, job: JobItem): Promise<void> {
    const started = Date.now();
    const log = { projectId: project.id, jobId: job.id, key: job.objectKey };
    this.deps.logger.info('job started', { event: 'job_started', ...log, resumeAfterRow: job.checkpointRow });
    let result: RunResult;
    try {
      result = await this.runner.run(project, job, this.abort.signal);
    } catch (error) {
      this.deps.logger.error('job crashed', { event: 'job_crashed', ...log, error: String(error) });
      return;
    }
    if (result.kind === 'finished') {
      const { outcome } = result;
      this.deps.metrics.jobs.inc({ outcome: outcome.status });
      this.deps.metrics.jobDuration.observe((Date.now() - started) / 1000);
      this.deps.metrics.recordsAccepted.inc({ source: 'file' }, outcome.recordsWritten);
      if (outcome.rowsRejected > 0) this.deps.metrics.recordsRejected.inc({ source: 'file', code: 'row' }, outcome.rowsRejected);
      this.deps.logger.info('job finished', {
        event: 'job_finished',
        ...log,
        status: outcome.status,
        format: outcome.format,
        rowsRead: outcome.rowsRead,
        recordsWritten: outcome.recordsWritten,
        rowsRejected: outcome.rowsRejected,
        failure: outcome.failure,
        durationMs: Date.now() - started,
      });
      this.deps.onJobFinished?.(result.job);
      // Drift is counted and alerted once per finished job, whatever passes it took.
      const { newFields, typeChanges } = result.job;
      if (newFields?.length) this.deps.metrics.fieldDrift.inc({ kind: 'new_field' }, newFields.length);
      if (typeChanges?.length) this.deps.metrics.fieldDrift.inc({ kind: 'type_change' }, typeChanges.length);
      if ((newFields?.length || typeChanges?.length) && project.model?.driftAlerts === true) this.deps.onFieldDrift?.(result.job);
    } else if (result.kind === 'lease_lost') {
      this.deps.logger.warn('job lease lost to another worker', { event: 'job_lease_lost', ...log });
    } else {
      this.deps.logger.warn('job paused; it resumes from its checkpoint at a later poll', {
        event: 'job_released',
        ...log,
        error: result.error instanceof Error ? result.error.message : String(result.error),
      });
    }
  }
}

function decodeName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
