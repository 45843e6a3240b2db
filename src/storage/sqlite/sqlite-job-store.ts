import {
  FINISHED_JOB_STATUSES,
  jobItemSchema,
  parseStored,
  type JobItem,
  type JobOutcome,
  type JobProgress,
} from '../../domain/model.js';
import { errors } from '../../errors.js';
import type { JobStore, Page } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';

const toJob = (doc: string) => parseStored(jobItemSchema, JSON.parse(doc), 'job');

/** Fields of `patch` that are set, so an absent field never erases a stored one. */
function definedFields<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Jobs and their leases in the embedded database. Every lease change is a read and a
 * write inside one immediate transaction of the one connection that holds the database's
 * lock, so the checks DynamoDB makes with condition expressions hold here just the same.
 */
export class SqliteJobStore implements JobStore {
  constructor(protected readonly database: SqliteDatabase) {}

  async createJob(job: JobItem): Promise<JobItem> {
    return this.database.transaction(() => {
      const existing = this.readJob(job.projectId, job.id);
      if (existing) return existing;
      this.database
        .statement('INSERT INTO jobs (project_id, id, created_at, doc) VALUES (?, ?, ?, ?)')
        .run(job.projectId, job.id, job.createdAt, JSON.stringify(job));
      return job;
    });
  }

  async getJob(projectId: string, jobId: string): Promise<JobItem | null> {
    return this.database.guard(() => this.readJob(projectId, jobId));
  }

  async listJobs(projectId: string, options: { limit: number; after?: string }): Promise<Page<JobItem>> {
    return this.database.guard(() => {
      const [createdAt, jobId] = options.after === undefined ? [] : options.after.split('|');
      const rows = (
        createdAt === undefined
          ? this.database
              .statement('SELECT doc FROM jobs WHERE project_id = ? ORDER BY created_at DESC, id DESC LIMIT ?')
              .all(projectId, options.limit + 1)
          : this.database
              .statement(
                'SELECT doc FROM jobs WHERE project_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?',
              )
              .all(projectId, createdAt, jobId ?? '', options.limit + 1)
      ) as { doc: string }[];
      const items = rows.slice(0, options.limit).map((row) => toJob(row.doc));
      const last = items.at(-1);
      return rows.length > options.limit && last ? { items, next: `${last.createdAt}|${last.id}` } : { items };
    });
  }

  async claimJob(projectId: string, jobId: string, owner: string, leaseMs: number): Promise<JobItem | null> {
    const now = Date.now();
    return this.database.transaction(() => {
      const job = this.readJob(projectId, jobId);
      if (!job || FINISHED_JOB_STATUSES.includes(job.status)) return null;
      if (job.leaseOwner !== undefined && (job.leaseExpiresAt ?? 0) >= now) return null;
      const at = new Date(now).toISOString();
      const claimed: JobItem = {
        ...job,
        leaseOwner: owner,
        leaseExpiresAt: now + leaseMs,
        status: 'running',
        updatedAt: at,
        startedAt: job.startedAt ?? at,
        attempts: job.attempts + 1,
      };
      this.writeJob(claimed);
      return claimed;
    });
  }

  async checkpointJob(
    projectId: string,
    jobId: string,
    owner: string,
    leaseMs: number,
    progress?: JobProgress,
  ): Promise<boolean> {
    const now = Date.now();
    return this.ownedUpdate(projectId, jobId, owner, (job) => ({
      ...job,
      ...definedFields(progress ?? {}),
      leaseExpiresAt: now + leaseMs,
      updatedAt: new Date(now).toISOString(),
    }));
  }

  async finishJob(projectId: string, jobId: string, owner: string, outcome: JobOutcome): Promise<boolean> {
    const at = new Date().toISOString();
    return this.ownedUpdate(projectId, jobId, owner, (job) => {
      const { leaseOwner: _owner, leaseExpiresAt: _expires, ...rest } = job;
      return { ...rest, ...definedFields(outcome), finishedAt: at, updatedAt: at };
    });
  }

  async releaseJob(projectId: string, jobId: string, owner: string): Promise<void> {
    await this.ownedUpdate(projectId, jobId, owner, (job) => {
      const { leaseOwner: _owner, leaseExpiresAt: _expires, ...rest } = job;
      return rest;
    });
  }

  async setJobObjectKey(projectId: string, jobId: string, objectKey: string): Promise<void> {
    this.database.transaction(() => {
      const job = this.readJob(projectId, jobId);
      if (!job) throw errors.jobNotFound(jobId);
      this.writeJob({ ...job, objectKey });
    });
  }

  /** Applies `change` only while `owner` holds the job's lease. */
  private ownedUpdate(projectId: string, jobId: string, owner: string, change: (job: JobItem) => JobItem): Promise<boolean> {
    return Promise.resolve(
      this.database.transaction(() => {
        const job = this.readJob(projectId, jobId);
        if (!job || job.leaseOwner !== owner) return false;
        this.writeJob(change(job));
        return true;
      }),
    );
  }

  private readJob(projectId: string, jobId: string): JobItem | null {
    const row = this.database
      .statement('SELECT doc FROM jobs WHERE project_id = ? AND id = ?')
      .get(projectId, jobId) as { doc: string } | undefined;
    return row ? toJob(row.doc) : null;
  }

  private writeJob(job: JobItem): void {
    this.database
      .statement('UPDATE jobs SET doc = ? WHERE project_id = ? AND id = ?')
      .run(JSON.stringify(job), job.projectId, job.id);
  }
}
