import { createHash } from 'node:crypto';
import {
  apiKeyItemSchema,
  idempotencyClaimSchema,
  parseStored,
  projectItemSchema,
  type ApiKeyItem,
  type IdempotencyClaim,
  type ProjectItem,
} from '../../domain/model.js';
import type { StoredModel } from '../../domain/record-model.js';
import { errors } from '../../errors.js';
import type { ControlStore, IngestedFile, Page, ProjectChanges } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { SqliteQuarantineStore } from './sqlite-quarantine-store.js';
import { SqliteExportStore } from './sqlite-export-store.js';
import { SqliteFieldCatalogStore } from './sqlite-field-catalog-store.js';
import { SqliteActivityStore } from './sqlite-activity-store.js';

const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** Expired claims removed per sweep statement: a sweep never holds the database for long. */
const SWEEP_BATCH = 500;
const SWEEP_EVERY_MS = 60_000;

export interface ControlStoreOptions {
  /** How long an idempotency claim holds (INTAKE_IDEMPOTENCY_TTL_HOURS); 24 h by default. */
  idempotencyTtlMs?: number;
  /** The clock claims are dated and judged by (tests inject one). */
  now?: () => number;
}

const toProject = (doc: string) => parseStored(projectItemSchema, JSON.parse(doc), 'project');
const toKey = (doc: string) => parseStored(apiKeyItemSchema, JSON.parse(doc), 'API key');

/** Projects, API keys, idempotency claims and jobs in the embedded database. */
export class SqliteControlStore extends SqliteJobStore implements ControlStore {
  readonly quarantine = new SqliteQuarantineStore(this.database);
  readonly exports = new SqliteExportStore(this.database);
  readonly catalog = new SqliteFieldCatalogStore(this.database);
  readonly activity = new SqliteActivityStore(this.database);
  private readonly idempotencyTtlMs: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(database: SqliteDatabase, options: ControlStoreOptions = {}) {
    super(database);
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
    this.now = options.now ?? Date.now;
    database.guard(() =>
      database.db.exec('CREATE INDEX IF NOT EXISTS idempotency_claims_by_expiry ON idempotency_claims (expires_at)'),
    );
    database.guard(() =>
      database.db.exec(`CREATE TABLE IF NOT EXISTS ingested_files (
        project_id TEXT NOT NULL, sha256 TEXT NOT NULL, file_id TEXT NOT NULL, job_id TEXT NOT NULL,
        PRIMARY KEY (project_id, sha256))`),
    );
    // At start, everything that expired while the service was down.
    while (this.sweepExpiredIdempotencyClaims() === SWEEP_BATCH);
    this.lastSweep = this.now();
  }

  async ensureTable(): Promise<void> {
    // The schema is created when the database is opened.
  }

  async createProject(project: ProjectItem): Promise<void> {
    const created = this.database.guard(
      () =>
        this.database
          .statement('INSERT INTO projects (id, doc) VALUES (?, ?) ON CONFLICT (id) DO NOTHING')
          .run(project.id, JSON.stringify(project)).changes,
    );
    if (created === 0) throw errors.projectExists(project.id);
  }

  async getProject(id: string): Promise<ProjectItem | null> {
    const row = this.database.guard(
      () => this.database.statement('SELECT doc FROM projects WHERE id = ?').get(id) as { doc: string } | undefined,
    );
    return row ? toProject(row.doc) : null;
  }

  async setProjectModel(id: string, model: StoredModel, expectedVersion: number): Promise<boolean> {
    return this.database.transaction(() => {
      const row = this.database.statement('SELECT doc FROM projects WHERE id = ?').get(id) as { doc: string } | undefined;
      if (!row) return false;
      const project = toProject(row.doc);
      if ((project.model?.version ?? 0) !== expectedVersion) return false;
      this.database.statement('UPDATE projects SET doc = ? WHERE id = ?').run(JSON.stringify({ ...project, model }), id);
      return true;
    });
  }

  async listProjects(options: { limit: number; after?: string }): Promise<Page<ProjectItem>> {
    const rows = this.database.guard(
      () =>
        this.database
          .statement('SELECT doc FROM projects WHERE id > ? ORDER BY id LIMIT ?')
          .all(options.after ?? '', options.limit + 1) as { doc: string }[],
    );
    const items = rows.slice(0, options.limit).map((row) => toProject(row.doc));
    const last = items.at(-1);
    return rows.length > options.limit && last ? { items, next: last.id } : { items };
  }

  async updateProject(id: string, changes: ProjectChanges): Promise<ProjectItem | null> {
    return this.database.transaction(() => {
      const row = this.database.statement('SELECT doc FROM projects WHERE id = ?').get(id) as { doc: string } | undefined;
      if (!row) return null;
      const project = toProject(row.doc);
      if (project.deletion !== undefined) return null;
      const next: ProjectItem = { ...project };
      if (changes.name !== undefined) next.name = changes.name;
      if (changes.allowedIps !== undefined) next.allowedIps = changes.allowedIps.length > 0 ? changes.allowedIps : undefined;
      if (changes.deletion !== undefined) next.deletion = changes.deletion;
      this.database.statement('UPDATE projects SET doc = ? WHERE id = ?').run(JSON.stringify(next), id);
      return next;
    });
  }

  async deleteProject(id: string): Promise<void> {
    this.database.transaction(() => {
      for (const table of ['api_keys', 'jobs', 'idempotency_claims', 'ingested_files']) {
        this.database.statement(`DELETE FROM ${table} WHERE project_id = ?`).run(id);
      }
      this.database.statement('DELETE FROM projects WHERE id = ?').run(id);
    });
  }

  async createKey(key: ApiKeyItem): Promise<void> {
    const created = this.database.guard(
      () =>
        this.database
          .statement('INSERT INTO api_keys (id, project_id, created_at, doc) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
          .run(key.id, key.projectId, key.createdAt, JSON.stringify(key)).changes,
    );
    if (created === 0) throw errors.internal(new Error(`API key id ${key.id} is taken`));
  }

  async getKey(id: string): Promise<ApiKeyItem | null> {
    const row = this.database.guard(
      () => this.database.statement('SELECT doc FROM api_keys WHERE id = ?').get(id) as { doc: string } | undefined,
    );
    return row ? toKey(row.doc) : null;
  }

  async listKeys(projectId: string): Promise<ApiKeyItem[]> {
    const rows = this.database.guard(
      () =>
        this.database
          .statement('SELECT doc FROM api_keys WHERE project_id = ? ORDER BY created_at, id')
          .all(projectId) as { doc: string }[],
    );
    return rows.map((row) => toKey(row.doc));
  }

  async revokeKey(projectId: string, keyId: string, at: string): Promise<boolean> {
    return this.database.transaction(() => {
      const row = this.database.statement('SELECT doc FROM api_keys WHERE id = ?').get(keyId) as { doc: string } | undefined;
      const key = row ? toKey(row.doc) : null;
      if (!key || key.projectId !== projectId) return false;
      // Revoking twice keeps the first revocation time.
      if (key.revokedAt === undefined) {
        this.database.statement('UPDATE api_keys SET doc = ? WHERE id = ?').run(JSON.stringify({ ...key, revokedAt: at }), keyId);
      }
      return true;
    });
  }

  /** An expired claim counts as absent: a retry after expiry is a new request. */
  async claimIdempotencyKey(projectId: string, key: string, claim: IdempotencyClaim): Promise<IdempotencyClaim> {
    const digest = createHash('sha256').update(key).digest('base64url');
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.sweepExpiredIdempotencyClaims();
    }
    return this.database.transaction(() => {
      const row = this.database
        .statement('SELECT doc FROM idempotency_claims WHERE project_id = ? AND key_hash = ? AND expires_at > ?')
        .get(projectId, digest, now) as { doc: string } | undefined;
      if (row) return parseStored(idempotencyClaimSchema, JSON.parse(row.doc), 'idempotency claim');
      this.database
        .statement(
          `INSERT INTO idempotency_claims (project_id, key_hash, doc, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (project_id, key_hash) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at`,
        )
        .run(projectId, digest, JSON.stringify(claim), now + this.idempotencyTtlMs);
      return claim;
    });
  }

  /**
   * Removes up to one batch of expired claims; returns how many went. Run at start (until
   * none are left) and at most once a minute on claims, so the table stays small without a
   * timer; claims expired but not yet swept are ignored by every read.
   */
  sweepExpiredIdempotencyClaims(): number {
    return this.database.guard(
      () =>
        this.database
          .statement(
            'DELETE FROM idempotency_claims WHERE rowid IN (SELECT rowid FROM idempotency_claims WHERE expires_at <= ? LIMIT ?)',
          )
          .run(this.now(), SWEEP_BATCH).changes,
    );
  }

  async deleteIdempotencyClaims(projectId: string, keys: readonly string[]): Promise<number> {
    const remove = this.database.statement('DELETE FROM idempotency_claims WHERE project_id = ? AND key_hash = ?');
    return this.database.transaction(() => {
      let deleted = 0;
      for (const key of new Set(keys)) deleted += remove.run(projectId, createHash('sha256').update(key).digest('base64url')).changes;
      return deleted;
    });
  }

  /**
   * Stores a claim as another store kept it: under the key's SHA-256 digest (the key
   * itself is never stored), with its expiry in epoch ms. For copying data between stores.
   */
  async importIdempotencyClaim(projectId: string, keyHash: string, claim: IdempotencyClaim, expiresAt: number): Promise<void> {
    this.database.guard(() =>
      this.database
        .statement(
          'INSERT INTO idempotency_claims (project_id, key_hash, doc, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(projectId, keyHash, JSON.stringify(claim), expiresAt),
    );
  }

  async rememberIngestedFile(projectId: string, sha256: string, file: IngestedFile): Promise<void> {
    this.database.guard(() =>
      this.database
        .statement('INSERT INTO ingested_files (project_id, sha256, file_id, job_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(projectId, sha256, file.fileId, file.jobId),
    );
  }

  async findIngestedFile(projectId: string, sha256: string): Promise<IngestedFile | null> {
    const row = this.database.guard(
      () =>
        this.database
          .statement('SELECT file_id, job_id FROM ingested_files WHERE project_id = ? AND sha256 = ?')
          .get(projectId, sha256) as { file_id: string; job_id: string } | undefined,
    );
    return row ? { fileId: row.file_id, jobId: row.job_id } : null;
  }

  async ping(): Promise<void> {
    this.database.guard(() => this.database.statement('SELECT 1').get());
  }
}
