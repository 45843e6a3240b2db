import { z } from 'zod';
import { errors } from '../errors.js';
import { storedModelSchema, type IndexEntry } from './record-model.js';
import { FIELD_TYPES } from '../quality/catalog/field-catalog.js';

/**
 * The domain model: projects, API keys and their scopes, ingestion jobs and their states,
 * row errors, and stored records. Storage ports and adapters import these; nothing here
 * knows a storage engine. Items read back from storage are parsed with the schemas below
 * (`parseStored`) rather than cast, so a damaged or foreign item is a clear error, never a
 * silently wrong object.
 */

export const ALL_SCOPES = ['records:write', 'records:read', 'files:write'] as const;
export type Scope = (typeof ALL_SCOPES)[number];
export const scopeSchema = z.enum(ALL_SCOPES);

export const rateLimitSettingSchema = z.object({
  requests: z.number().int().positive(),
  windowSeconds: z.number().int().positive(),
});
export type RateLimitSetting = z.infer<typeof rateLimitSettingSchema>;

export const projectItemSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  tableName: z.string(),
  bucketName: z.string(),
  allowedIps: z.array(z.string()).optional(),
  /** The record model (customer key, merge policy, indexes); absent: records are appended. */
  model: storedModelSchema.optional(),
  /** Set when the project's deletion started: it serves nothing more, and its job removes its data. */
  deletion: z.object({ jobId: z.string(), requestedAt: z.string() }).optional(),
});
export type ProjectItem = z.infer<typeof projectItemSchema>;

export const apiKeyItemSchema = z.object({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  hash: z.string(),
  scopes: z.array(scopeSchema),
  allowedIps: z.array(z.string()).optional(),
  rateLimit: rateLimitSettingSchema.optional(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
  createdAt: z.string(),
});
export type ApiKeyItem = z.infer<typeof apiKeyItemSchema>;

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** States a job ends in; a finished job is never claimed again. */
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'partial', 'failed'];

/** A refused row; `step`, `rule` and `field` say which cleaning step or schema rule refused it. */
export const rowErrorSchema = z.object({
  row: z.number(),
  code: z.string(),
  message: z.string(),
  step: z.number().optional(),
  rule: z.string().optional(),
  field: z.string().optional(),
});
export type RowError = z.infer<typeof rowErrorSchema>;

export const jobItemSchema = z.object({
  id: z.string(),
  projectId: z.string(),
  fileId: z.string(),
  fileName: z.string(),
  bucket: z.string(),
  objectKey: z.string(),
  /** Identity of the object version this job reads (ETag). */
  etag: z.string(),
  status: z.enum(JOB_STATUSES),
  format: z.string().nullable(),
  contentType: z.string().optional(),
  sha256: z.string().optional(),
  /** Re-ingest the file even when a file with the same SHA-256 was ingested before (`?force=true`). */
  force: z.boolean().optional(),
  /** The earlier upload with the same content that this job's file repeats: nothing was written. */
  duplicateOf: z.object({ fileId: z.string(), jobId: z.string() }).optional(),
  bytesTotal: z.number(),
  bytesRead: z.number(),
  rowsRead: z.number(),
  recordsWritten: z.number(),
  rowsRejected: z.number(),
  /** Rows a `filter` cleaning step left out: neither stored nor errors. */
  rowsSkipped: z.number().optional(),
  /** Keyed projects only: rows that created, changed or left unchanged their customer's record. */
  recordsCreated: z.number().optional(),
  recordsUpdated: z.number().optional(),
  recordsUnchanged: z.number().optional(),
  /** Drift: fields this job stored that the field catalog did not know, and known fields it saw with a new JSON type. */
  newFields: z.array(z.string()).optional(),
  typeChanges: z.array(z.object({ field: z.string(), knownTypes: z.array(z.enum(FIELD_TYPES)), newTypes: z.array(z.enum(FIELD_TYPES)) })).optional(),
  /** Every row up to here is stored; a resumed run writes only rows after it. */
  checkpointRow: z.number(),
  errors: z.array(rowErrorSchema),
  notices: z.array(z.string()),
  errorReportKey: z.string().optional(),
  failure: z.object({ code: z.string(), message: z.string() }).optional(),
  attempts: z.number(),
  /**
   * How the job's row ids are made: `ordered` (fileRowId) for jobs created by this release,
   * absent for jobs created before it, whose rows keep their hashed ids so that a job
   * resumed across an upgrade still writes each row once.
   */
  rowIds: z.literal('ordered').optional(),
  leaseOwner: z.string().optional(),
  leaseExpiresAt: z.number().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type JobItem = z.infer<typeof jobItemSchema>;

export type JobProgress = Pick<
  JobItem,
  'format' | 'bytesRead' | 'rowsRead' | 'recordsWritten' | 'rowsRejected' | 'checkpointRow' | 'errors' | 'notices'
> &
  Partial<Pick<JobItem, 'recordsCreated' | 'recordsUpdated' | 'recordsUnchanged' | 'rowsSkipped' | 'newFields' | 'typeChanges'>>;

/** Where every new job starts: queued, nothing read, nothing written, never claimed. */
export function queuedJobState() {
  return {
    status: 'queued' as const,
    format: null,
    bytesRead: 0,
    rowsRead: 0,
    recordsWritten: 0,
    rowsRejected: 0,
    checkpointRow: 0,
    errors: [] as RowError[],
    notices: [] as string[],
    attempts: 0,
  };
}

/**
 * A job that reads no uploaded object (an index backfill, a project deletion, a quarantine
 * replay): listed with the file jobs under `name` where they show a file name, queued, with
 * `etag` naming what it works from. Its file id is its own id.
 */
export function objectlessJob(project: Pick<ProjectItem, 'id' | 'bucketName'>, id: string, at: string, job: { name: string; etag: string; notice: string }): JobItem {
  return {
    id,
    projectId: project.id,
    fileId: id,
    fileName: job.name,
    bucket: project.bucketName,
    objectKey: '',
    etag: job.etag,
    ...queuedJobState(),
    bytesTotal: 0,
    notices: [job.notice],
    createdAt: at,
    updatedAt: at,
  };
}

export type JobOutcome = JobProgress &
  Pick<JobItem, 'status' | 'objectKey' | 'errorReportKey' | 'failure'> &
  Partial<Pick<JobItem, 'duplicateOf'>>;

export const idempotencyClaimSchema = z.object({ bodyHash: z.string(), firstSeenAt: z.string() });
export type IdempotencyClaim = z.infer<typeof idempotencyClaimSchema>;

export interface StoredRecord {
  id: string;
  /** The record object as JSON text, exactly as sent (numbers keep every digit). */
  data: string;
  /** JSON text of where the record came from. */
  source: string;
  ingestedAt: string;
  /** Present on the records of a keyed project: one record per customer, merged. */
  keyed?: KeyedParts;
}

// Declared with the record model that makes the entries; stored records carry them.
export type { IndexEntry } from './record-model.js';

/**
 * What a customer's record holds besides its data. JSON-valued parts are kept as text, as
 * `data` is, so adapters store them without knowing their shape.
 */
export interface KeyedParts {
  /** JSON text of the normalized key values by field. */
  key: string;
  /** Counts the writes that changed the data. */
  version: number;
  /** Counts every write; the condition of the next one, so concurrent writers never lose one. */
  revision: number;
  createdAt: string;
  /** JSON text: per top-level field, the source that last set it and when. */
  provenance: string;
  /** JSON text: per source stream (file, idempotent push), the last row or index applied. */
  applied: string;
  modelVersion: number;
  /** What the indexes hold for this record: each indexed field's value, and the index slot it is kept in. */
  index: IndexEntry[];
}

/**
 * Parses an item read back from storage against its schema. Unknown attributes (an
 * adapter's key fields) are dropped; a missing or mistyped field is a storage fault.
 */
export function parseStored<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const result = schema.safeParse(item);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.join('.') || '(root)';
  throw errors.internal(new Error(`${what} read from storage is invalid at ${where}: ${issue?.message ?? 'unknown'}`));
}
