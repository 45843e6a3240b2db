import type { QuarantineEntry } from '../../quality/quarantine/quarantine-entry.js';
import type { Page, QuarantineStore } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';

/** How often a write also deletes expired entries. */
const SWEEP_EVERY_MS = 10 * 60_000;

/**
 * Quarantined rows in the embedded database: one table for every project, keyed by
 * (project, entry id), with the filters a listing uses as columns. The table is created
 * here when missing, so databases made before it gain it on their next start.
 */
export class SqliteQuarantineStore implements QuarantineStore {
  private lastSweep = 0;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    database.guard(() =>
      database.db.exec(`
        CREATE TABLE IF NOT EXISTS quarantine (
          project_id TEXT NOT NULL, id TEXT NOT NULL, job_id TEXT, code TEXT NOT NULL,
          expires_at INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (project_id, id));
        CREATE INDEX IF NOT EXISTS quarantine_by_expiry ON quarantine (expires_at);
        CREATE TABLE IF NOT EXISTS quarantine_replay_leases (
          project_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
      `),
    );
  }

  async putEntries(projectId: string, entries: readonly QuarantineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const insert = this.database.statement(
      `INSERT INTO quarantine (project_id, id, job_id, code, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project_id, id) DO UPDATE SET job_id = excluded.job_id, code = excluded.code,
         expires_at = excluded.expires_at, doc = excluded.doc`,
    );
    this.database.transaction(() => {
      for (const entry of entries) {
        insert.run(projectId, entry.id, entry.jobId ?? null, entry.reason.code, entry.expiresAt, JSON.stringify(entry));
      }
    });
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) await this.sweepExpired(now);
  }

  async listEntries(
    projectId: string,
    options: { jobId?: string; code?: string; limit: number; after?: string; now: number },
  ): Promise<Page<QuarantineEntry>> {
    const where = ['project_id = ?', 'expires_at > ?', 'id > ?'];
    const args: (string | number)[] = [projectId, options.now, options.after ?? ''];
    if (options.jobId !== undefined) {
      where.push('job_id = ?');
      args.push(options.jobId);
    }
    if (options.code !== undefined) {
      where.push('code = ?');
      args.push(options.code);
    }
    const rows = this.database.guard(
      () =>
        this.database
          .statement(`SELECT id, doc FROM quarantine WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`)
          .all(...args, options.limit + 1) as { id: string; doc: string }[],
    );
    const items = rows.slice(0, options.limit).map((row) => JSON.parse(row.doc) as QuarantineEntry);
    return rows.length > options.limit ? { items, next: items[items.length - 1]!.id } : { items };
  }

  async deleteEntry(projectId: string, id: string): Promise<boolean> {
    const changes = this.database.guard(
      () => this.database.statement('DELETE FROM quarantine WHERE project_id = ? AND id = ?').run(projectId, id).changes,
    );
    return changes > 0;
  }

  async claimReplay(projectId: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const changes = this.database.guard(
      () =>
        this.database
          .statement(
            `INSERT INTO quarantine_replay_leases (project_id, owner, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (project_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE quarantine_replay_leases.owner = excluded.owner OR quarantine_replay_leases.expires_at <= ?`,
          )
          .run(projectId, owner, now + leaseMs, now).changes,
    );
    return changes > 0;
  }

  async releaseReplay(projectId: string, owner: string): Promise<void> {
    this.database.guard(() =>
      this.database.statement('DELETE FROM quarantine_replay_leases WHERE project_id = ? AND owner = ?').run(projectId, owner),
    );
  }

  async sweepExpired(now: number): Promise<number> {
    this.lastSweep = now;
    return this.database.guard(() => this.database.statement('DELETE FROM quarantine WHERE expires_at <= ?').run(now).changes);
  }
}
