import { createHash } from 'node:crypto';
import type { RowError } from '../../domain/model.js';

/** How long a quarantined row is kept when INTAKE_QUARANTINE_RETENTION_DAYS is not set. */
export const DEFAULT_QUARANTINE_RETENTION_DAYS = 30;

const DAY_MS = 24 * 3600 * 1000;

/** Why a row was refused: the row error's code and message, and where the rules engine names them, its step, rule and field. */
export interface QuarantineReason {
  code: string;
  message: string;
  step?: number;
  rule?: string;
  field?: string;
}

/** Where the refused input came from: one record of a push, or one row of a file job. */
export type QuarantineSource =
  | { type: 'push'; keyId: string; requestId: string; idempotencyKey?: string; index: number }
  | { type: 'file'; fileId: string; jobId: string; fileName: string; row: number };

/**
 * One refused row or record, kept with its input as sent, so that it can be read, fixed
 * upstream, or replayed through a later model. `raw` is the record as JSON text (a file
 * row as its parser read it, a pushed record as sent), or the unreadable text itself
 * (an NDJSON line that is not JSON); null when the parser could not isolate the row.
 */
export interface QuarantineEntry {
  id: string;
  projectId: string;
  /** The file job of a file row; absent for pushes. Listings filter on it. */
  jobId?: string;
  raw: string | null;
  reason: QuarantineReason;
  source: QuarantineSource;
  /** The version of the record model that refused the row; null when the project had none. */
  modelVersion: number | null;
  createdAt: string;
  /** Epoch milliseconds past which the entry is gone (TTL in DynamoDB, a sweep in SQLite). */
  expiresAt: number;
}

/** Longest raw input kept per entry: a row beyond it is cut and marked, never dropped. */
export const MAX_RAW_CHARS = 64 * 1024;

export function clipRaw(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  return raw.length <= MAX_RAW_CHARS ? raw : raw.slice(0, MAX_RAW_CHARS);
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('base64url').slice(0, 22);

/**
 * A file row's entry id: one per (job, row), so a job resumed after a crash, which rejects
 * the same rows again, rewrites the same entries instead of adding copies. Row-padded,
 * so one job's entries list in row order.
 */
export const fileEntryId = (jobId: string, row: number): string => `f-${digest(jobId)}-${String(row).padStart(12, '0')}`;

/**
 * A pushed record's entry id: a retried idempotent request rewrites its entries; without
 * an Idempotency-Key each request is its own.
 */
export function pushEntryId(source: Extract<QuarantineSource, { type: 'push' }>): string {
  const identity = source.idempotencyKey === undefined ? `request:${source.requestId}` : `idem:${source.keyId}:${source.idempotencyKey}`;
  return `p-${digest(identity)}-${String(source.index).padStart(8, '0')}`;
}

export function reasonOf(error: RowError & Partial<QuarantineReason>): QuarantineReason {
  const reason: QuarantineReason = { code: error.code, message: error.message.slice(0, 1000) };
  if (typeof error.step === 'number') reason.step = error.step;
  if (typeof error.rule === 'string') reason.rule = error.rule;
  if (typeof error.field === 'string') reason.field = error.field;
  return reason;
}

export const expiryOf = (createdAtMs: number, retentionDays: number): number => createdAtMs + retentionDays * DAY_MS;

/** Filters of a listing (and of a delete by filter). */
export interface QuarantineFilter {
  jobId?: string;
  code?: string;
}
