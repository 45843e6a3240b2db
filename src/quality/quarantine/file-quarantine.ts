import type { JobItem, ProjectItem, RowError } from '../../domain/model.js';
import type { QuarantineStore } from '../../storage/ports.js';
import {
  clipRaw,
  DEFAULT_QUARANTINE_RETENTION_DAYS,
  expiryOf,
  fileEntryId,
  reasonOf,
  type QuarantineEntry,
} from './quarantine-entry.js';

/** Entries held before they are written, whether or not a batch of records is due. */
const MAX_PENDING = 500;

/**
 * The refused rows of one pass over a file, written to the project's quarantine with
 * one store call per batch (or per MAX_PENDING refused rows, when a file is mostly bad).
 * Entry ids derive from (job, row): a resumed pass, which refuses the same rows again,
 * rewrites the same entries.
 */
export class FileQuarantine {
  private pending: QuarantineEntry[] = [];

  constructor(
    private readonly store: QuarantineStore,
    private readonly project: ProjectItem,
    private readonly job: JobItem,
    private readonly retentionDays = DEFAULT_QUARANTINE_RETENTION_DAYS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps a refused row; `raw` is the row as its parser read it, when it could. */
  add(rejection: RowError, raw: string | null | undefined): void {
    const at = this.now();
    this.pending.push({
      id: fileEntryId(this.job.id, rejection.row),
      projectId: this.project.id,
      jobId: this.job.id,
      raw: clipRaw(raw),
      reason: reasonOf(rejection),
      source: { type: 'file', fileId: this.job.fileId, jobId: this.job.id, fileName: this.job.fileName, row: rejection.row },
      modelVersion: this.project.model?.version ?? null,
      createdAt: new Date(at).toISOString(),
      expiresAt: expiryOf(at, this.retentionDays),
    });
  }

  get full(): boolean {
    return this.pending.length >= MAX_PENDING;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    await this.store.putEntries(this.project.id, entries);
  }
}
