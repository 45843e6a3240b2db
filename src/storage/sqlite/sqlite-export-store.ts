import type { ExportJob } from '../../export/export-job.js';
import { isFinished } from '../../export/export-job.js';
import type { ExportJobStore, Page } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';

/**
 * Export jobs in the embedded database: one table keyed by (project, export id), the job as
 * JSON text, with its status and lease as columns for the conditional writes. Created here
 * when missing, so databases made before it gain it on their next start.
 */
export class SqliteExportStore implements ExportJobStore {
  constructor(private readonly database: SqliteDatabase) {
    database.guard(() =>
      database.db.exec(`
        CREATE TABLE IF NOT EXISTS export_jobs (
          project_id TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL,
          lease_owner TEXT, lease_expires_at INTEGER, doc TEXT NOT NULL, PRIMARY KEY (project_id, id));
      `),
    );
  }

  async createExport(job: ExportJob): Promise<boolean> {
    const changes = this.database.guard(
      () =>
        this.database
          .statement('INSERT INTO export_jobs (project_id, id, status, doc) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
          .run(job.projectId, job.id, job.status, JSON.stringify(job)).changes,
    );
    return changes > 0;
  }

  async getExport(projectId: string, id: string): Promise<ExportJob | null> {
    const row = this.database.guard(
      () =>
        this.database.statement('SELECT doc FROM export_jobs WHERE project_id = ? AND id = ?').get(projectId, id) as
          | { doc: string }
          | undefined,
    );
    return row ? (JSON.parse(row.doc) as ExportJob) : null;
  }

  async listExports(projectId: string, options: { limit: number; after?: string }): Promise<Page<ExportJob>> {
    const rows = this.database.guard(
      () =>
        this.database
          .statement(`SELECT id, doc FROM export_jobs WHERE project_id = ? ${options.after === undefined ? '' : 'AND id < ?'} ORDER BY id DESC LIMIT ?`)
          .all(...(options.after === undefined ? [projectId] : [projectId, options.after]), options.limit + 1) as { id: string; doc: string }[],
    );
    const items = rows.slice(0, options.limit).map((row) => JSON.parse(row.doc) as ExportJob);
    return rows.length > options.limit ? { items, next: items.at(-1)!.id } : { items };
  }

  async nextUnfinishedExport(projectId: string): Promise<ExportJob | null> {
    const row = this.database.guard(
      () =>
        this.database
          .statement("SELECT doc FROM export_jobs WHERE project_id = ? AND status IN ('queued', 'running') ORDER BY id LIMIT 1")
          .get(projectId) as { doc: string } | undefined,
    );
    return row ? (JSON.parse(row.doc) as ExportJob) : null;
  }

  async claimExport(projectId: string, id: string, owner: string, leaseMs: number, now: number): Promise<ExportJob | null> {
    return this.database.transaction(() => {
      const row = this.database
        .statement('SELECT doc, lease_owner, lease_expires_at FROM export_jobs WHERE project_id = ? AND id = ?')
        .get(projectId, id) as { doc: string; lease_owner: string | null; lease_expires_at: number | null } | undefined;
      if (row === undefined) return null;
      const job = JSON.parse(row.doc) as ExportJob;
      if (isFinished(job)) return null;
      if (row.lease_owner !== null && row.lease_owner !== owner && (row.lease_expires_at ?? 0) > now) return null;
      const claimed: ExportJob = {
        ...job,
        status: 'running',
        attempts: job.attempts + (row.lease_owner === owner ? 0 : 1),
        leaseOwner: owner,
        leaseExpiresAt: now + leaseMs,
        startedAt: job.startedAt ?? new Date(now).toISOString(),
        updatedAt: new Date(now).toISOString(),
      };
      this.write(claimed);
      return claimed;
    });
  }

  async saveExport(job: ExportJob, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return this.database.transaction(() => {
      const row = this.database
        .statement('SELECT lease_owner, lease_expires_at FROM export_jobs WHERE project_id = ? AND id = ?')
        .get(job.projectId, job.id) as { lease_owner: string | null; lease_expires_at: number | null } | undefined;
      if (row === undefined || row.lease_owner !== owner || (row.lease_expires_at ?? 0) < now) return false;
      const finished = isFinished(job);
      this.write({
        ...job,
        leaseOwner: finished ? undefined : owner,
        leaseExpiresAt: finished ? undefined : now + leaseMs,
        updatedAt: new Date(now).toISOString(),
      });
      return true;
    });
  }

  async deleteExports(projectId: string): Promise<void> {
    this.database.guard(() => this.database.statement('DELETE FROM export_jobs WHERE project_id = ?').run(projectId));
  }

  private write(job: ExportJob): void {
    this.database
      .statement('UPDATE export_jobs SET status = ?, lease_owner = ?, lease_expires_at = ?, doc = ? WHERE project_id = ? AND id = ?')
      .run(job.status, job.leaseOwner ?? null, job.leaseExpiresAt ?? null, JSON.stringify(job), job.projectId, job.id);
  }
}
