import { setTimeout as sleep } from 'node:timers/promises';
import { ulid } from 'ulid';
import { errors } from '../errors.js';
import type { ApiKeyService } from './api-keys.service.js';
import { objectlessJob, type JobItem, type JobProgress, type ProjectItem } from './model.js';
import type { ProjectService } from './projects.service.js';
import type { ControlStore, ObjectStore, RecordStore } from '../storage/ports.js';

/** The name a deletion job shows where a file job shows its file. */
export const DELETION_JOB_NAME = '(project deletion)';
const LEASE_MS = 60_000;

export interface DeletionStart {
  project: ProjectItem;
  job: JobItem;
  /** Settles when this task has removed the project (immediately when another task works on it). */
  done: Promise<'deleted' | 'elsewhere' | 'paused'>;
}

/**
 * Deleting a project, in two halves. The request half marks the project deleting (it then
 * serves nothing: 409 project_deleting), revokes its keys and waits until no task can still
 * serve it from a cache, so that from its answer on every key of the project is refused
 * everywhere. The job half, leased like any job, drops the records table, empties and
 * removes the bucket page by page (checkpointing the count as `rowsRead`), then removes its
 * quarantine and the project with its keys, jobs and idempotency claims, the project item last: until then the
 * id stays taken, and the poller of any task resumes a job whose worker died.
 */
export class ProjectDeletion {
  private readonly running = new Map<string, Promise<'deleted' | 'elsewhere' | 'paused'>>();

  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    private readonly keys: ApiKeyService,
    private readonly projects: ProjectService,
    private readonly owner: string,
    /** The longest any task serves a project or a key from its caches. */
    private readonly cacheWindowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async start(projectId: string): Promise<DeletionStart> {
    const project = await this.control.getProject(projectId);
    if (!project) throw errors.projectNotFound(projectId);
    if (project.deletion !== undefined) return this.existing(project);
    const at = new Date(this.now()).toISOString();
    const id = ulid();
    const job = objectlessJob(project, id, at, {
      name: DELETION_JOB_NAME,
      etag: 'deletion',
      notice: `Deletes the records table ${project.tableName} and the bucket ${project.bucketName}.`,
    });
    await this.control.createJob(job);
    const marked = await this.control.updateProject(project.id, { deletion: { jobId: id, requestedAt: at } });
    if (!marked) {
      // Another request marked it first (its job is the one that runs), or it is gone.
      const now = await this.control.getProject(project.id);
      if (now?.deletion !== undefined) return this.existing(now);
      throw errors.projectNotFound(projectId);
    }
    await this.revokeKeys(project.id);
    this.projects.forget(project.id);
    await sleep(this.cacheWindowMs);
    return { project: marked, job, done: this.resume(marked) };
  }

  /** Claims the project's deletion job and runs it; a no-op while another worker holds its lease. */
  resume(project: ProjectItem): Promise<'deleted' | 'elsewhere' | 'paused'> {
    const deletion = project.deletion;
    if (deletion === undefined) return Promise.resolve('elsewhere');
    let run = this.running.get(project.id);
    if (run === undefined) {
      run = this.claimAndRun(project, deletion.jobId).finally(() => this.running.delete(project.id));
      this.running.set(project.id, run);
    }
    return run;
  }

  private async existing(project: ProjectItem): Promise<DeletionStart> {
    const job = await this.control.getJob(project.id, project.deletion!.jobId);
    if (!job) throw errors.projectDeleting(project.id);
    return { project, job, done: Promise.resolve('elsewhere') };
  }

  private async revokeKeys(projectId: string): Promise<void> {
    for (const key of await this.control.listKeys(projectId)) {
      if (key.revokedAt === undefined) await this.keys.revoke(projectId, key.id);
    }
  }

  /** The quarantined rows of the project (expired ones go by TTL or the sweep anyway). */
  private async removeQuarantine(projectId: string): Promise<void> {
    const quarantine = this.control.quarantine;
    for (;;) {
      const page = await quarantine.listEntries(projectId, { limit: 500, now: this.now() });
      if (page.items.length === 0) return;
      for (const entry of page.items) await quarantine.deleteEntry(projectId, entry.id);
    }
  }

  private async claimAndRun(project: ProjectItem, jobId: string): Promise<'deleted' | 'elsewhere' | 'paused'> {
    const job = await this.control.claimJob(project.id, jobId, this.owner, LEASE_MS);
    if (!job) return 'elsewhere';
    let removed = job.rowsRead;
    const progress = (): JobProgress => ({
      format: null,
      bytesRead: 0,
      rowsRead: removed,
      recordsWritten: 0,
      rowsRejected: 0,
      checkpointRow: removed,
      errors: [],
      notices: job.notices,
    });
    try {
      // Again, for a run resumed after its first worker stopped between marking and revoking.
      await this.revokeKeys(project.id);
      await this.records.deleteTable(project.tableName);
      if (!(await this.control.checkpointJob(project.id, jobId, this.owner, LEASE_MS, progress()))) return 'elsewhere';
      for (let page = await this.objects.emptyBucket(project.bucketName); page > 0; page = await this.objects.emptyBucket(project.bucketName)) {
        removed += page;
        if (!(await this.control.checkpointJob(project.id, jobId, this.owner, LEASE_MS, progress()))) return 'elsewhere';
      }
      await this.objects.deleteBucket(project.bucketName);
      await this.removeQuarantine(project.id);
      await this.control.catalog.deleteFields(project.id);
      await this.control.exports.deleteExports(project.id);
      await this.control.deleteProject(project.id);
      this.projects.forget(project.id);
      return 'deleted';
    } catch {
      // Storage trouble: the lease goes back and the next poll (here or in another task) resumes.
      await this.control.releaseJob(project.id, jobId, this.owner).catch(() => undefined);
      return 'paused';
    }
  }
}
