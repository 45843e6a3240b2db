import fs from 'node:fs';
import path from 'node:path';
import { openEarlierEmbeddedTables, type EarlierEmbeddedTables } from './dynamodb/earlier-embedded-engine.js';
import { earlierEngineDir, embeddedDatabaseFile } from './embedded-data-dir.js';
import {
  copyControl,
  copyRecords,
  MigrationError,
  NothingToMigrateError,
  verifyControl,
  verifyRecords,
  type ControlCounts,
  type ProgressListener,
  type TableCopy,
  type TargetStores,
} from './migrate-copy.js';
import { storageNames } from './names.js';
import { SqliteControlStore } from './sqlite/sqlite-control-store.js';
import { SqliteDatabase } from './sqlite/sqlite-database.js';
import { SqliteRecordStore } from './sqlite/sqlite-record-store.js';

export { MigrationError, NothingToMigrateError, type MigrationProgress } from './migrate-copy.js';

export interface MigrateOptions {
  dataDir: string;
  /** INTAKE_NAME_PREFIX of the earlier release: it named the control table. */
  namePrefix: string;
  onProgress?: ProgressListener;
}

export type MigrationResult =
  | { status: 'migrated'; database: string; keptDir: string; control?: ControlCounts; tables: TableCopy[]; sampled: number }
  | { status: 'already-migrated'; database: string; keptDir: string };

/** Where the earlier files go once their copy is verified; the user deletes them. */
const MIGRATED_SUFFIX = '.migrated';

/**
 * Copies the data of an earlier release (`<dataDir>/dynamodb/`, an emulated DynamoDB on
 * LevelDB) into the SQLite store: written to `intake.db.migrating`, read back and verified,
 * then renamed to `intake.db`, and only then `dynamodb/` renamed to `dynamodb.migrated/`.
 * The earlier files are only read, so a run that stops anywhere leaves them whole, and
 * running again starts over from them; a run that stopped between the two renames is
 * finished by verifying the `intake.db` it left against them.
 */
export async function migrateEarlierEmbeddedData(options: MigrateOptions): Promise<MigrationResult> {
  const { dataDir } = options;
  const oldDir = earlierEngineDir(dataDir);
  const database = embeddedDatabaseFile(dataDir);
  const onProgress = options.onProgress ?? (() => undefined);
  if (!fs.existsSync(oldDir)) {
    const kept = migratedDirs(dataDir);
    if (kept.length > 0 && fs.existsSync(database)) return { status: 'already-migrated', database, keptDir: kept[0]! };
    throw new NothingToMigrateError(
      `There is no data of an earlier release to migrate in ${dataDir} (no ${path.basename(oldDir)}/ directory). ` +
        'Check INTAKE_DATA_DIR.',
    );
  }
  const controlTable = storageNames(options.namePrefix).controlTable;
  const source = await openEarlierEmbeddedTables(oldDir);
  let result: MigrationResult;
  try {
    if (!(await source.exists(controlTable))) {
      throw new MigrationError(
        `${oldDir} holds no table ${controlTable}. Run the migration with the INTAKE_NAME_PREFIX the earlier release used.`,
      );
    }
    if (fs.existsSync(database)) {
      result = await finishInterruptedRun(source, database, controlTable, oldDir, onProgress);
    } else {
      result = await copyAndVerify(source, database, controlTable, onProgress);
    }
  } finally {
    await source.close();
  }
  const keptDir = freeName(`${oldDir}${MIGRATED_SUFFIX}`);
  fs.renameSync(oldDir, keptDir);
  syncDir(dataDir);
  return { ...result, keptDir };
}

async function copyAndVerify(
  source: EarlierEmbeddedTables,
  database: string,
  controlTable: string,
  onProgress: ProgressListener,
): Promise<MigrationResult> {
  const work = `${database}.migrating`;
  removeWorkFiles(work);
  const { control, tables } = await withStores(work, async (stores) => {
    const copied = await copyControl(source, controlTable, stores, onProgress);
    const { project, key, job, idempotency } = copied.counts;
    const copies: TableCopy[] = [{ table: controlTable, items: project + key + job + idempotency }];
    for (const each of copied.projects) copies.push(await copyRecords(source, each.tableName, stores, onProgress));
    return { control: copied.counts, tables: copies };
  });
  // Checked on a fresh connection: what is verified is what reached the file.
  const sampled = await verifyFile(source, work, controlTable, onProgress);
  // The file alone is renamed: everything must be in it, nothing left in its WAL.
  if ((fs.statSync(`${work}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    throw new MigrationError(`${work}-wal still holds commits after the checkpoint; nothing was renamed.`);
  }
  syncFile(work);
  fs.renameSync(work, database);
  syncDir(path.dirname(database));
  return { status: 'migrated', database, keptDir: '', control, tables, sampled };
}

/** `intake.db` beside `dynamodb/`: a run stopped between its renames, if the two hold the same data. */
async function finishInterruptedRun(
  source: EarlierEmbeddedTables,
  database: string,
  controlTable: string,
  oldDir: string,
  onProgress: ProgressListener,
): Promise<MigrationResult> {
  try {
    const sampled = await verifyFile(source, database, controlTable, onProgress);
    return { status: 'migrated', database, keptDir: '', tables: [], sampled };
  } catch (error) {
    if (!(error instanceof MigrationError)) throw error;
    throw new MigrationError(
      `${database} already exists beside ${oldDir} and does not hold the same data (${error.message}). ` +
        'Nothing was changed. Move one of them away and run the migration again.',
    );
  }
}

async function verifyFile(
  source: EarlierEmbeddedTables,
  file: string,
  controlTable: string,
  onProgress: ProgressListener,
): Promise<number> {
  return withStores(file, async (stores) => {
    let sampled = 0;
    const projects = await verifyControl(source, controlTable, stores, onProgress);
    for (const project of projects) sampled += (await verifyRecords(source, project.tableName, stores, onProgress)).sampled;
    return sampled;
  });
}

async function withStores<T>(file: string, work: (stores: TargetStores) => Promise<T>): Promise<T> {
  // Durability comes from the checkpoint on close and the fsync before the rename, not per commit.
  const database = SqliteDatabase.open(file, { synchronous: 'normal' });
  try {
    const result = await work({ database, control: new SqliteControlStore(database), records: new SqliteRecordStore(database) });
    database.guard(() => database.db.pragma('wal_checkpoint(TRUNCATE)'));
    return result;
  } finally {
    database.close();
  }
}

/** The work file of an earlier, interrupted run (and its WAL), removed before starting over. */
function removeWorkFiles(work: string): void {
  const dir = path.dirname(work);
  const base = path.basename(work);
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(base)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function migratedDirs(dataDir: string): string[] {
  const base = path.basename(earlierEngineDir(dataDir)) + MIGRATED_SUFFIX;
  if (!fs.existsSync(dataDir)) return [];
  return fs
    .readdirSync(dataDir)
    .filter((name) => name === base || name.startsWith(`${base}.`))
    .map((name) => path.join(dataDir, name));
}

/** `wanted`, or `wanted.1`, `wanted.2`… when an earlier migration left one there. */
function freeName(wanted: string): string {
  let candidate = wanted;
  for (let n = 1; fs.existsSync(candidate); n++) candidate = `${wanted}.${n}`;
  return candidate;
}

function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename in `dir` durable. */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
