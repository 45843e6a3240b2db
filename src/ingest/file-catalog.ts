import type { Readable } from 'node:stream';
import { errors } from '../errors.js';
import type { JobItem, ProjectItem } from '../domain/model.js';
import { PREFIXES } from '../storage/object-keys.js';
import type { ControlStore, ObjectInfo, ObjectStore, Page } from '../storage/ports.js';

/** File ids are 26-character ULIDs (or derived ids of the same alphabet); nothing else can name a file. */
const FILE_ID = /^[0-9A-Za-z]{1,64}$/;
/** Job pages read to fill one page of files (jobs that are not files are skipped). */
const MAX_JOB_PAGES = 10;
// Objects only ever move from incoming/ to processed/ or failed/: looking in that order
// finds one that moves meanwhile.
const PLACES = [PREFIXES.incoming, PREFIXES.processed, PREFIXES.failed] as const;

export interface FileRetention {
  /** Days an ingested upload stays under processed/ (INTAKE_PROCESSED_RETENTION_DAYS); 0 or unset keeps it. */
  processedRetentionDays?: number;
  now?: () => number;
}

const DAY_MS = 86_400_000;
/** Crockford base32, the alphabet of a ULID's 10-character time part. */
const ULID_TIME = /^([0-9A-HJKMNP-TV-Z]{10})[0-9A-HJKMNP-TV-Z]{16}$/;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** When an uploaded file's id (a ULID) was made, in epoch ms; undefined for other ids. */
export function uploadTimeOf(fileId: string): number | undefined {
  const match = ULID_TIME.exec(fileId);
  if (!match) return undefined;
  let ms = 0;
  for (const char of match[1]!) ms = ms * 32 + CROCKFORD.indexOf(char);
  return ms;
}

/**
 * Whether the job's file has passed the processed/ retention: an ingested file (its object
 * under processed/) whose job finished more than `days` ago. The sweep and the S3 lifecycle
 * rule count from when the object reached processed/, which is when the job finished.
 */
export function isExpired(job: JobItem, days: number | undefined, now: number): boolean {
  if (!days || !job.objectKey.startsWith(PREFIXES.processed) || job.finishedAt === undefined) return false;
  return Date.parse(job.finishedAt) + days * DAY_MS < now;
}

export interface FileContent {
  fileName: string;
  contentType: string;
  size: number;
  body: Readable;
}

/** A job reads a file when it has an object; backfill, replay and deletion jobs have none. */
export function isFileJob(job: JobItem): boolean {
  return job.objectKey !== '';
}

/**
 * What a project holds of its uploads, read from the job store (the source of truth for
 * what was uploaded and what became of it) and the project bucket (the bytes).
 */
export class FileCatalog {
  constructor(
    private readonly objects: ObjectStore,
    private readonly control: ControlStore,
    private readonly retention: FileRetention = {},
  ) {}

  /** Whether the job's file has passed the processed/ retention (the files list shows it expired). */
  expired(job: JobItem): boolean {
    return isExpired(job, this.retention.processedRetentionDays, (this.retention.now ?? Date.now)());
  }

  /** A page of the project's files (one per file job), newest first. */
  async list(project: ProjectItem, options: { limit: number; after?: string }): Promise<Page<JobItem>> {
    const files: JobItem[] = [];
    let after = options.after;
    for (let pages = 0; pages < MAX_JOB_PAGES; pages++) {
      const page = await this.control.listJobs(project.id, { limit: options.limit - files.length, after });
      files.push(...page.items.filter(isFileJob));
      after = page.next;
      if (after === undefined || files.length >= options.limit) break;
    }
    // `after` always follows the last job read; a page cut short by MAX_JOB_PAGES continues there.
    return after === undefined ? { items: files } : { items: files, next: after };
  }

  /**
   * The original bytes of an uploaded file, wherever it is now (incoming/, processed/ or
   * failed/ under `<prefix><fileId>/`). 404 file_not_found for an id this project never had;
   * 410 file_expired when the object is gone and the id (an upload's ULID) dates from the
   * project's life but from before the retention period, so that retention deleted it (the
   * object store keeps no trace of a deleted object, and jobs are not found by file id).
   */
  async open(project: ProjectItem, fileId: string): Promise<FileContent> {
    const bucket = project.bucketName;
    let object = FILE_ID.test(fileId) ? await this.locate(bucket, fileId) : null;
    if (!object) {
      const days = this.retention.processedRetentionDays;
      const uploaded = uploadTimeOf(fileId);
      const lived = uploaded !== undefined && uploaded >= Date.parse(project.createdAt);
      if (days && lived && uploaded + days * DAY_MS < (this.retention.now ?? Date.now)()) {
        throw errors.fileExpired(fileId, days);
      }
      throw errors.fileNotFound(fileId);
    }
    let body: Readable;
    try {
      body = await this.objects.getStream(bucket, object.key);
    } catch (error) {
      // Settled by its job between the look and the read: read it where it went.
      const moved = await this.locate(bucket, fileId);
      if (!moved || moved.key === object.key) throw error;
      object = moved;
      body = await this.objects.getStream(bucket, object.key);
    }
    return {
      fileName: originalName(object),
      contentType: object.contentType || 'application/octet-stream',
      size: object.size,
      body,
    };
  }

  /**
   * The job's full NDJSON error report. A finished job without row errors has an empty
   * report (null body); a job still queued or running has none yet (404 error_report_not_ready).
   */
  async openErrorReport(job: JobItem, project: ProjectItem): Promise<{ size: number; body: Readable } | null> {
    if (job.status === 'queued' || job.status === 'running') {
      throw errors.errorReportNotReady(job.id, job.status);
    }
    if (job.errorReportKey === undefined) return null;
    const head = await this.objects.head(project.bucketName, job.errorReportKey);
    if (!head) {
      throw errors.errorReportGone(job.id);
    }
    return { size: head.size, body: await this.objects.getStream(project.bucketName, job.errorReportKey) };
  }

  private async locate(bucket: string, fileId: string): Promise<ObjectInfo | null> {
    // Each look lists only the file's own folder.
    for (const prefix of PLACES) {
      for await (const page of this.objects.list(bucket, `${prefix}${fileId}/`)) {
        const first = page[0];
        if (!first) continue;
        // Gone since the listing: it moved on to a later place.
        const head = await this.objects.head(bucket, first.key);
        if (head) return head;
        break;
      }
    }
    return null;
  }
}

function originalName(object: ObjectInfo): string {
  const stored = object.metadata?.['original-name'];
  if (stored) {
    try {
      return decodeURIComponent(stored);
    } catch {
      // fall through to the key's name
    }
  }
  return object.key.slice(object.key.lastIndexOf('/') + 1);
}
