import { isDeepStrictEqual } from 'node:util';
import {
  apiKeyItemSchema,
  idempotencyClaimSchema,
  jobItemSchema,
  parseStored,
  projectItemSchema,
  type ProjectItem,
  type StoredRecord,
} from '../domain/model.js';
import type { EarlierEmbeddedTables } from './dynamodb/earlier-embedded-engine.js';
import type { PlainItem } from './dynamodb/scan-table.js';
import type { SqliteControlStore } from './sqlite/sqlite-control-store.js';
import { quoteIdentifier, type SqliteDatabase } from './sqlite/sqlite-database.js';
import type { SqliteRecordStore } from './sqlite/sqlite-record-store.js';

/** Progress of one table: `copied` of `total` items (verification reports `checked`). */
export interface MigrationProgress {
  phase: 'copy' | 'verify';
  table: string;
  done: number;
  total: number;
}

export type ProgressListener = (progress: MigrationProgress) => void;

export interface TargetStores {
  database: SqliteDatabase;
  control: SqliteControlStore;
  records: SqliteRecordStore;
}

/** What the control table held, by kind of item. */
export interface ControlCounts {
  project: number;
  key: number;
  job: number;
  idempotency: number;
  /** Per-window request counters: short-lived by nature, not copied. */
  rateCounter: number;
}

export interface TableCopy {
  table: string;
  items: number;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The data directory holds nothing of an earlier release. */
export class NothingToMigrateError extends MigrationError {
  override name = 'NothingToMigrateError';
}

type ControlKind = keyof ControlCounts;

const KIND_BY_PREFIX: Record<string, ControlKind> = {
  project: 'project',
  key: 'key',
  job: 'job',
  idem: 'idempotency',
  ratelimit: 'rateCounter',
};

/** The kind of a control item, from its partition key (`project#…`, `key#…`, `job#…`, `idem#…`, `ratelimit#…`). */
function controlKind(item: PlainItem): ControlKind {
  const pk = typeof item.pk === 'string' ? item.pk : '';
  const kind = KIND_BY_PREFIX[pk.slice(0, pk.indexOf('#'))];
  // Nothing is dropped without a reason: an item of an unknown kind stops the migration.
  if (kind === undefined) throw new MigrationError(`The control table holds an item this release does not know (pk ${JSON.stringify(pk.slice(0, 80))}).`);
  return kind;
}

/** An idempotency claim's project and key digest, from `idem#<project>#<sha256 base64url>`. */
function claimKey(item: PlainItem): { projectId: string; keyHash: string } {
  const [, projectId = '', keyHash = ''] = String(item.pk).split('#');
  return { projectId, keyHash };
}

function claimExpiry(item: PlainItem, now: number): number {
  // DynamoDB's `ttl` is in epoch seconds; a claim without one gets the usual 24 h from now.
  return typeof item.ttl === 'number' ? item.ttl * 1000 : now + 24 * 3600 * 1000;
}

/**
 * A claim whose time has passed is left behind: it guards nothing any more (every read
 * ignores it), and the new store would sweep it the first time it opens. Verification
 * skips the same claims, judged at its own start, so a claim that expires between copy
 * and check is neither demanded nor counted.
 */
function isExpiredClaim(kind: ControlKind, item: PlainItem, now: number): boolean {
  return kind === 'idempotency' && claimExpiry(item, now) <= now;
}

/** Copies projects, keys, jobs and idempotency claims; returns the counts and the projects. */
export async function copyControl(
  source: EarlierEmbeddedTables,
  table: string,
  target: TargetStores,
  onProgress: ProgressListener,
): Promise<{ counts: ControlCounts; projects: ProjectItem[] }> {
  const total = await source.count(table);
  const counts: ControlCounts = { project: 0, key: 0, job: 0, idempotency: 0, rateCounter: 0 };
  const projects: ProjectItem[] = [];
  const now = Date.now();
  let done = 0;
  onProgress({ phase: 'copy', table, done, total });
  for await (const page of source.scan(table)) {
    for (const item of page) {
      const kind = controlKind(item);
      if (isExpiredClaim(kind, item, now)) continue;
      counts[kind]++;
      if (kind === 'project') {
        const project = parseStored(projectItemSchema, item, 'project');
        await target.control.createProject(project);
        projects.push(project);
      } else if (kind === 'key') {
        await target.control.createKey(parseStored(apiKeyItemSchema, item, 'API key'));
      } else if (kind === 'job') {
        await target.control.createJob(parseStored(jobItemSchema, item, 'job'));
      } else if (kind === 'idempotency') {
        const { projectId, keyHash } = claimKey(item);
        const claim = parseStored(idempotencyClaimSchema, item, 'idempotency claim');
        await target.control.importIdempotencyClaim(projectId, keyHash, claim, claimExpiry(item, now));
      }
    }
    done += page.length;
    onProgress({ phase: 'copy', table, done, total });
  }
  return { counts, projects };
}

function toStoredRecord(table: string, item: PlainItem): StoredRecord {
  const { id, d, s, t } = item;
  if (typeof id !== 'string' || typeof d !== 'string' || typeof s !== 'string' || typeof t !== 'string') {
    throw new MigrationError(`A record in ${table} is not {id, d, s, t} strings (id ${JSON.stringify(String(id).slice(0, 80))}).`);
  }
  return { id, data: d, source: s, ingestedAt: t };
}

/** Copies one project's records table, one Scan page per transaction. */
export async function copyRecords(
  source: EarlierEmbeddedTables,
  table: string,
  target: TargetStores,
  onProgress: ProgressListener,
): Promise<TableCopy> {
  await target.records.ensureTable(table);
  const total = (await source.exists(table)) ? await source.count(table) : 0;
  let done = 0;
  onProgress({ phase: 'copy', table, done, total });
  if (total === 0) return { table, items: 0 };
  for await (const page of source.scan(table)) {
    await target.records.putRecords(table, page.map((item) => toStoredRecord(table, item)));
    done += page.length;
    onProgress({ phase: 'copy', table, done, total });
  }
  return { table, items: done };
}

const SQL_TABLE_BY_KIND: Record<Exclude<ControlKind, 'rateCounter'>, string> = {
  project: 'projects',
  key: 'api_keys',
  job: 'jobs',
  idempotency: 'idempotency_claims',
};

function countRows(database: SqliteDatabase, table: string): number {
  return database.guard(
    () => (database.db.prepare(`SELECT COUNT(*) AS n FROM ${quoteIdentifier(table)}`).get() as { n: number }).n,
  );
}

/** The claims still alive at `now`: the ones verification demands (see isExpiredClaim). */
function countLiveClaims(database: SqliteDatabase, now: number): number {
  return database.guard(
    () => (database.db.prepare('SELECT COUNT(*) AS n FROM idempotency_claims WHERE expires_at > ?').get(now) as { n: number }).n,
  );
}

/** The copy of one control item, read back from the new store; `undefined` when it is missing. */
async function copiedControlItem(target: TargetStores, kind: ControlKind, item: PlainItem): Promise<unknown> {
  if (kind === 'project') return (await target.control.getProject(String(item.id))) ?? undefined;
  if (kind === 'key') return (await target.control.getKey(String(item.id))) ?? undefined;
  if (kind === 'job') return (await target.control.getJob(String(item.projectId), String(item.id))) ?? undefined;
  const { projectId, keyHash } = claimKey(item);
  const row = target.database.guard(
    () =>
      target.database.db
        .prepare('SELECT doc FROM idempotency_claims WHERE project_id = ? AND key_hash = ?')
        .get(projectId, keyHash) as { doc: string } | undefined,
  );
  return row ? parseStored(idempotencyClaimSchema, JSON.parse(row.doc), 'idempotency claim') : undefined;
}

const SCHEMA_BY_KIND = {
  project: projectItemSchema,
  key: apiKeyItemSchema,
  job: jobItemSchema,
  idempotency: idempotencyClaimSchema,
} as const;

/**
 * Checks the control data item by item: every item of the old control table (rate
 * counters aside) is in the new store and equal to it, and the new store holds no more.
 * Returns the projects, whose records tables are checked next.
 */
export async function verifyControl(
  source: EarlierEmbeddedTables,
  table: string,
  target: TargetStores,
  onProgress: ProgressListener,
): Promise<ProjectItem[]> {
  const total = await source.count(table);
  const counts: ControlCounts = { project: 0, key: 0, job: 0, idempotency: 0, rateCounter: 0 };
  const projects: ProjectItem[] = [];
  const now = Date.now();
  let done = 0;
  for await (const page of source.scan(table)) {
    for (const item of page) {
      const kind = controlKind(item);
      if (isExpiredClaim(kind, item, now)) continue;
      counts[kind]++;
      if (kind === 'rateCounter') continue;
      const expected = parseStored<unknown>(SCHEMA_BY_KIND[kind], item, kind);
      const copied = await copiedControlItem(target, kind, item);
      if (!isDeepStrictEqual(copied, expected)) {
        throw new MigrationError(`Verification failed: the ${kind} ${String(item.pk)} differs in the new database.`);
      }
      if (kind === 'project') projects.push(expected as ProjectItem);
    }
    done += page.length;
  }
  if (done !== total) throw new MigrationError(`Verification failed: ${table} scanned ${done} items, counted ${total}.`);
  for (const [kind, sqlTable] of Object.entries(SQL_TABLE_BY_KIND) as [Exclude<ControlKind, 'rateCounter'>, string][]) {
    const rows = kind === 'idempotency' ? countLiveClaims(target.database, now) : countRows(target.database, sqlTable);
    if (rows !== counts[kind]) {
      throw new MigrationError(`Verification failed: ${counts[kind]} ${kind} items in ${table}, ${rows} rows in ${sqlTable}.`);
    }
  }
  onProgress({ phase: 'verify', table, done, total });
  return projects;
}

/** Records compared byte for byte per table, drawn at random from the copy. */
export const VERIFY_SAMPLE_SIZE = 500;

/** Checks one records table: equal counts, and a random sample of records byte-equal to the old ones. */
export async function verifyRecords(
  source: EarlierEmbeddedTables,
  table: string,
  target: TargetStores,
  onProgress: ProgressListener,
): Promise<{ items: number; sampled: number }> {
  const expected = (await source.exists(table)) ? await source.count(table) : 0;
  const rows = countRows(target.database, table);
  if (rows !== expected) throw new MigrationError(`Verification failed: ${expected} records in ${table} before, ${rows} after.`);
  const sample = target.database.guard(
    () =>
      target.database.db
        .prepare(`SELECT id FROM ${quoteIdentifier(table)} ORDER BY random() LIMIT ?`)
        .all(VERIFY_SAMPLE_SIZE) as { id: string }[],
  );
  for (const { id } of sample) {
    const before = await source.get(table, { id });
    const after = await target.records.getRecord(table, id);
    const same =
      before !== null &&
      after !== null &&
      before.d === after.data &&
      before.s === after.source &&
      before.t === after.ingestedAt;
    if (!same) throw new MigrationError(`Verification failed: record ${JSON.stringify(id)} of ${table} differs in the new database.`);
  }
  onProgress({ phase: 'verify', table, done: sample.length, total: rows });
  return { items: rows, sampled: sample.length };
}
