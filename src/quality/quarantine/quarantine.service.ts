import { randomUUID } from 'node:crypto';
import { decodeUtf8, splitJsonArrayText } from '../../domain/json-text.js';
import type { JobItem, ProjectItem, RowError } from '../../domain/model.js';
import { errors } from '../../errors.js';
import type { Page, QuarantineStore } from '../../storage/ports.js';
import type { QuarantineReplay } from './quarantine-replay.js';
import {
  clipRaw,
  DEFAULT_QUARANTINE_RETENTION_DAYS,
  expiryOf,
  pushEntryId,
  reasonOf,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineReason,
  type QuarantineSource,
} from './quarantine-entry.js';

/** A push's refused records as the push answers them: by index, with the rules' step, rule and field when they name them. */
export type PushRejection = { index: number; code: string; message: string } & Partial<Pick<QuarantineReason, 'step' | 'rule' | 'field'>>;

export interface PushOrigin {
  body: Buffer;
  contentType: 'json' | 'ndjson';
  idempotencyKey?: string;
  source: { keyId: string; requestId: string };
}

/** Entries one filtered delete removes at most: the caller repeats while `more` is true. */
export const MAX_FILTERED_DELETE = 10_000;
const DELETE_PAGE = 500;
/** Held by a filtered delete so that no replay puts back rows it is removing. */
const DELETE_LEASE_MS = 60_000;

/** The projects' quarantines: what refused rows are kept with, and how they are read and removed. */
export class QuarantineService {
  constructor(
    private readonly store: QuarantineStore,
    private readonly retentionDays = DEFAULT_QUARANTINE_RETENTION_DAYS,
    private readonly now: () => number = Date.now,
    private readonly replayer?: QuarantineReplay,
  ) {}

  /** Starts a replay job of the project's quarantined rows (409 while another runs); it goes on in the background. */
  async replay(project: ProjectItem, filter: QuarantineFilter): Promise<JobItem> {
    if (this.replayer === undefined) throw errors.internal(new Error('replay is not configured'));
    const { job } = await this.replayer.start(project, filter);
    return job;
  }

  /**
   * Keeps a push's refused records, each with its text as sent, in one store call. The
   * body is split again only when something was refused, so a clean push costs nothing.
   */
  async keepPushRejections(project: ProjectItem, push: PushOrigin, rejections: readonly PushRejection[]): Promise<void> {
    if (rejections.length === 0) return;
    const texts = recordTexts(push);
    const at = this.now();
    const entries = rejections.map((rejection): QuarantineEntry => {
      const source: Extract<QuarantineSource, { type: 'push' }> = {
        type: 'push',
        keyId: push.source.keyId,
        requestId: push.source.requestId,
        index: rejection.index,
      };
      if (push.idempotencyKey !== undefined) source.idempotencyKey = push.idempotencyKey;
      return {
        id: pushEntryId(source),
        projectId: project.id,
        raw: clipRaw(texts?.[rejection.index]?.trim()),
        reason: reasonOf({ ...rejection, row: rejection.index } as RowError & Partial<QuarantineReason>),
        source,
        modelVersion: project.model?.version ?? null,
        createdAt: new Date(at).toISOString(),
        expiresAt: expiryOf(at, this.retentionDays),
      };
    });
    await this.store.putEntries(project.id, entries);
  }

  async list(project: ProjectItem, filter: QuarantineFilter, page: { limit: number; after?: string }): Promise<Page<QuarantineEntry>> {
    return this.store.listEntries(project.id, { ...filter, ...page, now: this.now() });
  }

  async delete(project: ProjectItem, entryId: string): Promise<void> {
    if (entryId.length === 0 || entryId.length > 128 || !(await this.store.deleteEntry(project.id, entryId))) {
      throw errors.quarantineEntryNotFound(entryId);
    }
  }

  /**
   * Deletes the entries matching the filter, page by page (never more than a page in
   * memory), at most MAX_FILTERED_DELETE per call: `more` says entries may remain. It holds
   * the project's replay lease meanwhile (409 while a replay runs: a replay puts back the
   * rows that still fail, which would undo part of the delete).
   */
  async deleteMatching(project: ProjectItem, filter: QuarantineFilter, max = MAX_FILTERED_DELETE): Promise<{ deleted: number; more: boolean }> {
    const owner = `delete-${randomUUID()}`;
    if (!(await this.store.claimReplay(project.id, owner, DELETE_LEASE_MS, this.now()))) throw errors.replayInProgress();
    try {
      let deleted = 0;
      let after: string | undefined;
      do {
        const page = await this.store.listEntries(project.id, { ...filter, limit: Math.min(DELETE_PAGE, max - deleted), after, now: this.now() });
        for (const entry of page.items) if (await this.store.deleteEntry(project.id, entry.id)) deleted++;
        after = page.next;
        // A long delete keeps its lease, as a replay does between pages.
        if (after !== undefined) await this.store.claimReplay(project.id, owner, DELETE_LEASE_MS, this.now());
      } while (after !== undefined && deleted < max);
      return { deleted, more: after !== undefined };
    } finally {
      await this.store.releaseReplay(project.id, owner).catch(() => undefined);
    }
  }

  /** Deletes expired entries where the store does not do it itself (SQLite); how many went. */
  async sweep(): Promise<number> {
    return this.store.sweepExpired(this.now());
  }
}

/** Each record's text by its push index: NDJSON lines by line number, JSON array elements, or the one object. */
function recordTexts(push: PushOrigin): string[] | undefined {
  let text: string;
  try {
    text = decodeUtf8(push.body);
  } catch {
    return undefined;
  }
  if (push.contentType === 'ndjson') return text.split('\n');
  return splitJsonArrayText(text) ?? [text];
}
