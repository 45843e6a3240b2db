import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SQLITE_CACHE_MIB } from '../../config.js';
import { AppError, errors } from '../../errors.js';

export type SqliteSynchronous = 'normal' | 'full';

export interface SqliteOptions {
  /**
   * `normal`: a commit reaches the operating system before it is acknowledged, so nothing
   * acknowledged is lost when the process dies (kill -9, OOM); a power loss may take back
   * the last commits, never corrupt the file. `full`: every commit is also fsynced.
   */
  synchronous: SqliteSynchronous;
  /**
   * Page cache of the connection, in MiB: the service passes INTAKE_SQLITE_CACHE_MIB; a
   * tool that opens the file without the service's settings (the data migration) gets
   * DEFAULT_SQLITE_CACHE_MIB, that setting's default.
   */
  cacheMiB?: number;
}

/** The database file could not be opened for a reason a person must fix; nothing was changed. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const SCHEMA_VERSION = 1;

/** Codes that say "the disk or the file is not answering right now": retried, then 503. */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|NOMEM|INTERRUPT)/;

/**
 * One embedded database file (SQLite, WAL) holding the control data and one table per
 * project's records. The connection takes an exclusive lock for its whole life: a second
 * process on the same data directory is refused at start instead of writing beside it.
 */
export class SqliteDatabase {
  /**
   * Statements by their SQL, prepared on first use. Preparing compiles the SQL, which took
   * longer than running it: a 1-record push prepared four statements (the field catalog's
   * read and upsert, the hourly count's upsert and trim), about a seventh of its time.
   * The stores' SQL texts are a fixed set (per-project record tables have statements of
   * their own, made once per table by the record store), so the map stays small.
   */
  private readonly statements = new Map<string, Database.Statement>();
  /** One transaction function, made once: it runs the work it is given. */
  private readonly inTransaction: Database.Transaction<(work: () => unknown) => unknown>;

  private constructor(
    readonly file: string,
    readonly db: Database.Database,
  ) {
    this.inTransaction = db.transaction((work: () => unknown) => work());
  }

  static open(file: string, options: SqliteOptions): SqliteDatabase {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const exists = fs.existsSync(file);
    if (exists) assertLooksLikeSqlite(file);
    // A new file is made under a temporary name and renamed once its schema is in, so a
    // file under the real name is never empty: an empty one means data was lost.
    const target = exists ? file : `${file}.new`;
    if (!exists) fs.rmSync(target, { force: true });
    let db: Database.Database;
    try {
      db = new Database(target, { timeout: 0 });
    } catch (error) {
      throw new StoreOpenError(`Cannot open the embedded database ${file}: ${messageOf(error)}`);
    }
    try {
      configure(db, options);
      lockAndCheck(db, file);
      migrateSchema(db);
    } catch (error) {
      db.close();
      if (error instanceof StoreOpenError) throw error;
      // The journal mode is read (a shared lock) before the write lock is tried: another
      // process holding the file fails the open there already.
      if (isLockedOut(error)) throw inUseError(file);
      if (isDamaged(error)) throw corruptError(file, error);
      throw new StoreOpenError(`Cannot open the embedded database ${file}: ${messageOf(error)}`);
    }
    if (!exists) {
      db.close();
      fs.renameSync(target, file);
      return SqliteDatabase.open(file, options);
    }
    return new SqliteDatabase(file, db);
  }

  /** Runs `work` in one transaction; storage failures become AppErrors. */
  transaction<T>(work: () => T): T {
    return this.guard(() => this.inTransaction.immediate(work) as T);
  }

  /**
   * The prepared statement for `sql`, made once per connection. Only for `run`, `get` and
   * `all`: a statement shared by callers must not be left open by an iterator.
   */
  statement<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as Database.Statement<P, R>;
  }

  /** Runs `work`, turning engine failures into the service's storage errors. */
  guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw toStorageError(error);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function configure(db: Database.Database, options: SqliteOptions): void {
  // EXCLUSIVE before WAL: the WAL index then lives in the process, not in a shared-memory
  // file, and the lock taken by the first write is held until the connection closes.
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`cache_size = -${(options.cacheMiB ?? DEFAULT_SQLITE_CACHE_MIB) * 1024}`);
  // A checkpoint copies the WAL's pages into the file and syncs both: its cost is per
  // checkpoint plus per distinct page. Customer records are updated at random places in the
  // table (their ids are hashes), so a 500-record commit dirties ~500 pages; checkpointing
  // every ~4 MiB then meant a sync every other commit and cost a keyed ingest more than half
  // its speed. Every ~64 MiB (16,000 pages of 4 KiB) keeps a restart's WAL replay well under a
  // second, and the size limit truncates the log back to that after a checkpoint.
  db.pragma('wal_autocheckpoint = 16000');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma('temp_store = MEMORY');
}

function lockAndCheck(db: Database.Database, file: string): void {
  try {
    // Takes the write lock now, so a second instance fails here rather than at its first write.
    db.prepare('BEGIN IMMEDIATE').run();
    db.prepare('COMMIT').run();
  } catch (error) {
    if (isLockedOut(error)) throw inUseError(file);
    throw corruptError(file, error);
  }
  let check: unknown;
  try {
    check = db.pragma('quick_check(1)', { simple: true });
  } catch (error) {
    throw corruptError(file, error);
  }
  if (check !== 'ok') throw corruptError(file, new Error(String(check)));
}

function migrateSchema(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreOpenError(
      `The embedded database was written by a newer Intake (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade Intake.`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS projects (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS api_keys_by_project ON api_keys (project_id, created_at, id);
      CREATE TABLE IF NOT EXISTS jobs (
        project_id TEXT NOT NULL, id TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (project_id, id));
      CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (project_id, created_at, id);
      CREATE TABLE IF NOT EXISTS idempotency_claims (
        project_id TEXT NOT NULL, key_hash TEXT NOT NULL, doc TEXT NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY (project_id, key_hash));
      CREATE TABLE IF NOT EXISTS rate_counters (key TEXT PRIMARY KEY, hits INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS rate_counters_by_expiry ON rate_counters (expires_at);
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

function assertLooksLikeSqlite(file: string): void {
  const header = Buffer.alloc(SQLITE_HEADER.length);
  let read = 0;
  const fd = fs.openSync(file, 'r');
  try {
    read = fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (read < header.length || !header.equals(SQLITE_HEADER)) {
    throw corruptError(file, new Error(read === 0 ? 'the file is empty' : 'the file does not start with a SQLite header'));
  }
}

/** A truncated file can fail already when the journal mode is read, before any check runs. */
const isDamaged = (error: unknown) => /^SQLITE_(CORRUPT|NOTADB)/.test(codeOf(error) ?? '');

const isLockedOut = (error: unknown) => codeOf(error) === 'SQLITE_BUSY' || codeOf(error) === 'SQLITE_LOCKED';

function inUseError(file: string): StoreOpenError {
  return new StoreOpenError(
    `The embedded database ${file} is in use by another running Intake process. ` +
      'Stop that process, or give this one another INTAKE_DATA_DIR.',
  );
}

function corruptError(file: string, cause: unknown): StoreOpenError {
  return new StoreOpenError(
    `The embedded database ${file} is damaged or truncated (${messageOf(cause)}). Intake will not start on it and ` +
      'has changed nothing: restore the data directory from a backup, or move the file away to start empty.',
  );
}

/** SQLite's failures in the service's terms: 503 when the disk is busy or full, 500 otherwise. */
export function toStorageError(error: unknown): Error {
  if (error instanceof AppError) return error;
  const code = codeOf(error);
  if (code !== undefined && UNAVAILABLE_CODES.test(code)) return errors.storageUnavailable(error);
  // better-sqlite3 throws a TypeError once the connection is closed (shutdown in progress).
  if (error instanceof TypeError && /database connection is not open/i.test(error.message)) {
    return errors.storageUnavailable(error);
  }
  return errors.internal(error);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A table name as a quoted SQL identifier (names come from the configured prefix and a project slug). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
