import type { Readable } from 'node:stream';
import type {
  ApiKeyItem,
  IdempotencyClaim,
  JobItem,
  JobOutcome,
  JobProgress,
  ProjectItem,
  StoredRecord,
} from '../domain/model.js';
import type { StoredModel } from '../domain/record-model.js';
import type { QuarantineEntry, QuarantineFilter } from '../quality/quarantine/quarantine-entry.js';
import type { ExportJob } from '../export/export-job.js';
import type { CatalogField, FieldBatch, FieldChange } from '../quality/catalog/field-catalog.js';

/**
 * Narrow storage ports. Domain and HTTP code depend on these only; the adapters under
 * aws/ and fs/ implement them and are the only code that knows the AWS SDK.
 * Adapters throw AppError (storage_unavailable, ...) and never SDK errors.
 */

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PutObjectOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ObjectStore {
  /** Creates the bucket if it does not exist (idempotent). */
  ensureBucket(bucket: string): Promise<void>;
  /**
   * Streams `body` into the object. Resolves only once the object is completely and
   * durably stored; on any failure or abort no object is left behind.
   */
  putStream(bucket: string, key: string, body: Readable, options?: PutObjectOptions): Promise<void>;
  /** Reads the object, optionally from a byte offset. */
  getStream(bucket: string, key: string, options?: { start?: number }): Promise<Readable>;
  head(bucket: string, key: string): Promise<ObjectInfo | null>;
  /** Pages of objects under a prefix, in key order. */
  list(bucket: string, prefix: string): AsyncIterable<ObjectInfo[]>;
  /** Copies then deletes; a no-op when the source is already gone and the target exists. */
  move(bucket: string, fromKey: string, toKey: string): Promise<void>;
  delete(bucket: string, key: string): Promise<void>;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
  /**
   * Deletes up to one page of the bucket's objects, whatever their prefix; returns how many
   * went (0 when the bucket is empty or missing). Called until 0 to empty a bucket.
   */
  emptyBucket(bucket: string): Promise<number>;
  /** Removes an empty bucket; a missing one is no failure. */
  deleteBucket(bucket: string): Promise<void>;
}

/** What may change on a project after creation; `deletion` only ever goes from absent to set. */
export type ProjectChanges = Partial<Pick<ProjectItem, 'name' | 'allowedIps' | 'deletion'>>;

export interface RecordPage {
  items: StoredRecord[];
  /** The last id of the page when more may follow. */
  lastId?: string;
}

/** A page of records as NDJSON: each record's view (its JSON as the records API returns it) and a newline. */
export interface RecordLinesPage {
  /** UTF-8; empty when the page is. */
  text: Buffer;
  count: number;
  /** The last id of the page when more may follow. */
  lastId?: string;
}

/** Equality or prefix on one indexed field, paged in the index's order (value, then id). */
export interface IndexQuery {
  field: string;
  /** The field's index slot (see assignIndexSlots). */
  slot: number;
  match: { equals: string } | { prefix: string };
  limit: number;
  /** The `lastId` of the previous page (an adapter-level position). */
  after?: string;
}

/** Records written at or after `since` (an ISO time), paged in (updatedAt, id) order. */
export interface UpdatedSinceQuery {
  since: string;
  limit: number;
  /** The `lastId` of the previous page (an adapter-level position). */
  after?: string;
}

/**
 * Decides a customer's record from the record as stored (null when there is none): the
 * record to write, or null to write nothing. Pure: a store calls it again with a fresh
 * read when another writer changed the record in between.
 */
export type RecordMerge = (id: string, current: StoredRecord | null) => StoredRecord | null;

export interface RecordStore {
  /**
   * How many records one putRecords call should carry for the engine to write them well:
   * a file job fills batches of this size.
   */
  readonly writeBatchSize: number;
  ensureTable(table: string): Promise<void>;
  /** Writes in batches of 25 with retry of unprocessed items; resolves when all are stored. */
  putRecords(table: string, records: StoredRecord[]): Promise<void>;
  getRecord(table: string, id: string): Promise<StoredRecord | null>;
  listRecords(table: string, options: { limit: number; afterId?: string }): Promise<RecordPage>;
  /**
   * The same page as listRecords, already written as NDJSON lines, for an engine that can
   * write them itself faster than the service can from the records (SQLite, in SQL). Where
   * an engine has no such read, exports write the lines from listRecords' records.
   */
  listRecordLines?(table: string, options: { limit: number; afterId?: string }): Promise<RecordLinesPage>;
  /** listUpdatedSince's page as NDJSON lines, from an engine that has listRecordLines. */
  listUpdatedLinesSince?(table: string, query: UpdatedSinceQuery): Promise<RecordLinesPage>;
  /**
   * Read, merge, write for each id: a write lands only if the record is still as read (its
   * `keyed.revision`); otherwise the store reads it again and merges again, a bounded
   * number of times, then fails with storage_unavailable. Records written here carry
   * `keyed`; their `keyed.index` entries are what the indexes hold for them.
   */
  upsertRecords(table: string, ids: readonly string[], merge: RecordMerge): Promise<void>;
  /**
   * Checks that the table can serve index queries (every table made by this release can);
   * throws indexes_unavailable otherwise.
   */
  ensureIndexes(table: string): Promise<void>;
  /** A page of records whose indexed value matches, read from the index, never by a scan. */
  queryIndex(table: string, query: IndexQuery): Promise<RecordPage>;
  /**
   * A page of the records written (created or changed) at or after `since`, read from an
   * index on the write time, never by a scan; indexes_unavailable on a table made before it.
   */
  listUpdatedSince(table: string, query: UpdatedSinceQuery): Promise<RecordPage>;
  /**
   * Removes the record and its index entries; returns the record as it was, or null when
   * there was none.
   */
  deleteRecord(table: string, id: string): Promise<StoredRecord | null>;
  /**
   * How many records the table holds, as cheaply as the engine can say: exact in SQLite (a
   * COUNT), DynamoDB's DescribeTable ItemCount otherwise, which AWS refreshes only about
   * every six hours (`exact: false`).
   */
  countRecords(table: string): Promise<{ count: number; exact: boolean }>;
  /** Drops the table with every record and index entry; a missing table is no failure. */
  deleteTable(table: string): Promise<void>;
}

export interface Page<T> {
  items: T[];
  /** Opaque continuation for the next page (an adapter-level key, not yet signed). */
  next?: string;
}

export interface JobStore {
  /** Creates the job unless it already exists; returns the stored job either way. */
  createJob(job: JobItem): Promise<JobItem>;
  getJob(projectId: string, jobId: string): Promise<JobItem | null>;
  /** Newest first. */
  listJobs(projectId: string, options: { limit: number; after?: string }): Promise<Page<JobItem>>;
  /**
   * Takes the job's lease when it is unfinished and its lease is free or expired
   * (a conditional write). Returns the claimed job, or null when another worker holds it.
   */
  claimJob(projectId: string, jobId: string, owner: string, leaseMs: number): Promise<JobItem | null>;
  /** Extends the lease and saves progress; false when the lease was lost. */
  checkpointJob(projectId: string, jobId: string, owner: string, leaseMs: number, progress?: JobProgress): Promise<boolean>;
  /** Records the outcome and drops the lease; false when the lease was lost. */
  finishJob(projectId: string, jobId: string, owner: string, outcome: JobOutcome): Promise<boolean>;
  /** Gives the lease back without finishing (shutdown, storage outage). */
  releaseJob(projectId: string, jobId: string, owner: string): Promise<void>;
  /** Updates where the settled object now lives. */
  setJobObjectKey(projectId: string, jobId: string, objectKey: string): Promise<void>;
}

/**
 * The projects' quarantines: refused rows kept with their input, in the control store
 * (a table in SQLite, items under `quarantine#<project>` in the DynamoDB control table).
 */
export interface QuarantineStore {
  /** Writes the entries (one call per batch); an entry whose id exists is replaced. */
  putEntries(projectId: string, entries: readonly QuarantineEntry[]): Promise<void>;
  /** Unexpired entries in id order, optionally filtered; `next` continues after the page's last id. */
  listEntries(projectId: string, options: QuarantineFilter & { limit: number; after?: string; now: number }): Promise<Page<QuarantineEntry>>;
  /** Removes the entry; false when there was none. */
  deleteEntry(projectId: string, id: string): Promise<boolean>;
  /** Removes entries that expired before `now` (DynamoDB's TTL does this by itself); how many went. */
  sweepExpired(now: number): Promise<number>;
  /**
   * Takes or extends the project's one replay lease for `owner` (a conditional write);
   * false while another owner holds it unexpired.
   */
  claimReplay(projectId: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  /** Gives the lease back if `owner` holds it. */
  releaseReplay(projectId: string, owner: string): Promise<void>;
}

/**
 * The projects' field catalogs: one entry per field path, in the control store (a table in
 * SQLite, items under `catalog#<project>` in the DynamoDB control table).
 */
export interface FieldCatalogStore {
  /**
   * Merges one batch's observations, safely beside other writers: counts add, first seen
   * keeps the earliest time, last seen the latest, the example stays the first one kept (a
   * redacted observation removes it). Returns the fields that were new to the catalog or
   * brought it a new type, as the catalog stood just before each field's merge.
   */
  mergeFields(projectId: string, batch: FieldBatch): Promise<FieldChange[]>;
  /** The project's fields in path order; `next` continues after the page's last path. */
  listFields(projectId: string, options: { limit: number; after?: string }): Promise<Page<CatalogField>>;
  /** Removes the project's whole catalog (a project deletion). */
  deleteFields(projectId: string): Promise<void>;
}

/** An ingested upload, as the same-file check finds it. */
export interface IngestedFile {
  fileId: string;
  jobId: string;
}

/**
 * Export jobs, their own item type in the control store (a table in SQLite, items under
 * `export#<project>` in the DynamoDB control table), leased like file jobs.
 */
export interface ExportJobStore {
  /** Creates the job; false when one with its id exists. */
  createExport(job: ExportJob): Promise<boolean>;
  getExport(projectId: string, id: string): Promise<ExportJob | null>;
  /** Newest first. */
  listExports(projectId: string, options: { limit: number; after?: string }): Promise<Page<ExportJob>>;
  /** The oldest queued or running export of the project (jobs of a project run one at a time, in order). */
  nextUnfinishedExport(projectId: string): Promise<ExportJob | null>;
  /**
   * Takes the lease of an unfinished job whose lease is free, expired or already `owner`'s
   * (a conditional write); returns the job as claimed, or null.
   */
  claimExport(projectId: string, id: string, owner: string, leaseMs: number, now: number): Promise<ExportJob | null>;
  /**
   * Stores the job's state while `owner` holds its lease, extending the lease, or dropping
   * it when the job is finished; false when the lease was lost.
   */
  saveExport(job: ExportJob, owner: string, leaseMs: number, now: number): Promise<boolean>;
  /** Removes every export job of the project (a project deletion; its objects go with the bucket). */
  deleteExports(projectId: string): Promise<void>;
}

/** An alert as the console lists it, whether or not a webhook is configured. */
export interface AlertEvent {
  /** ISO time it fired. */
  at: string;
  kind: string;
  projectId?: string;
  message: string;
}

/** Records ingested into one project in one hour. */
export interface HourlyCount {
  /** ISO time of the hour's start. */
  hour: string;
  projectId: string;
  records: number;
}

/**
 * What the console's overview reads from shared storage, so every task sees the same:
 * records ingested per project and hour (bumped once per push and per job checkpoint, never
 * per record), and the latest alerts (bounded: only the newest are kept, and they expire).
 * A table in SQLite, items under `activity#...` in the DynamoDB control table.
 */
export interface ActivityStore {
  /** Adds `records` to the project's count for the hour starting at `hour` (ISO, on the hour). */
  addIngested(projectId: string, hour: string, records: number): Promise<void>;
  /** Every project's counts for the hours at or after `since` (ISO, on the hour). */
  ingestedSince(since: string): Promise<HourlyCount[]>;
  recordAlert(alert: AlertEvent): Promise<void>;
  /** Newest first, at most `limit`, none older than the retention. */
  latestAlerts(limit: number, now: number): Promise<AlertEvent[]>;
}

export interface ControlStore extends JobStore {
  readonly activity: ActivityStore;
  readonly quarantine: QuarantineStore;
  readonly exports: ExportJobStore;
  readonly catalog: FieldCatalogStore;
  ensureTable(): Promise<void>;
  /** Throws project_exists when the id is taken. */
  createProject(project: ProjectItem): Promise<void>;
  getProject(id: string): Promise<ProjectItem | null>;
  /**
   * Replaces the project's record model, only if its version is still `expectedVersion`
   * (0: the project has no model yet). False when another change got there first.
   */
  setProjectModel(id: string, model: StoredModel, expectedVersion: number): Promise<boolean>;
  listProjects(options: { limit: number; after?: string }): Promise<Page<ProjectItem>>;
  /**
   * Applies the changes (an empty allowlist clears it) when the project exists and is not
   * being deleted; returns the project as stored then, or null.
   */
  updateProject(id: string, changes: ProjectChanges): Promise<ProjectItem | null>;
  /**
   * Removes the project with its API keys, jobs and idempotency claims, the project item
   * last; idempotent, so a removal stopped half-way can be run again.
   */
  deleteProject(id: string): Promise<void>;
  createKey(key: ApiKeyItem): Promise<void>;
  getKey(id: string): Promise<ApiKeyItem | null>;
  listKeys(projectId: string): Promise<ApiKeyItem[]>;
  /** Marks the key revoked; returns false when there is no such key in the project. */
  revokeKey(projectId: string, keyId: string, at: string): Promise<boolean>;
  /**
   * Records the first use of an idempotency key, or returns the earlier claim when the
   * key was seen before (so the caller can compare request bodies).
   */
  claimIdempotencyKey(projectId: string, key: string, claim: IdempotencyClaim): Promise<IdempotencyClaim>;
  /** Forgets the claims of these idempotency keys; returns how many there were. */
  deleteIdempotencyClaims(projectId: string, keys: readonly string[]): Promise<number>;
  /**
   * Remembers that a file with this SHA-256 was ingested in the project (its job finished
   * succeeded or partial); the first file remembered stays. Removed with the project.
   */
  rememberIngestedFile(projectId: string, sha256: string, file: IngestedFile): Promise<void>;
  /** The file first remembered with this SHA-256 in the project, or null. */
  findIngestedFile(projectId: string, sha256: string): Promise<IngestedFile | null>;
  ping(): Promise<void>;
}

export interface RateCount {
  count: number;
  /** When the current window ends and the count starts again from zero. */
  resetAt: Date;
}

/** Hit counters per key and fixed window, shared by every task (the rate limits' shared store). */
export interface RateCounterStore {
  /** Adds one hit to the key's counter in the current window and returns the new count. */
  increment(key: string, windowMs: number): Promise<RateCount>;
  decrement(key: string, windowMs: number): Promise<void>;
  /** The current window's count, or undefined when the key has no hit in it. */
  get(key: string, windowMs: number): Promise<RateCount | undefined>;
  reset(key: string, windowMs: number): Promise<void>;
}

export interface Storage {
  objects: ObjectStore;
  records: RecordStore;
  control: ControlStore;
  /** Counters in the control table, for INTAKE_RATE_LIMIT_STORE=dynamodb. */
  rateCounters?: RateCounterStore;
  /** Releases clients and embedded engines. */
  close(): Promise<void>;
}
