import { deterministicId } from '../domain/ids.js';
import { queuedJobState, type JobItem, type ProjectItem } from '../domain/model.js';

/** How many row errors a job keeps inline; the full list goes to the NDJSON error report. */
export const MAX_INLINE_ERRORS = 100;

/**
 * A job is identified by the object version it reads, so the upload route and any
 * poller that finds the object agree on one job, and a file dropped again under the
 * same name (a new ETag) gets a new job.
 */
export function jobIdFor(bucket: string, key: string, etag: string): string {
  return deterministicId('job', bucket, key, etag);
}

/** The file id of an uploaded object is in its key (`incoming/<fileId>/<name>`); dropped objects get one derived from the version. */
export function fileIdFor(bucket: string, key: string, etag: string): string {
  const match = /^incoming\/([0-9A-HJKMNP-TV-Z]{26})\/[^/]+$/.exec(key);
  return match?.[1] ?? deterministicId('file', bucket, key, etag);
}

export function newJob(
  project: ProjectItem,
  object: { key: string; etag: string; size: number; fileName: string; contentType?: string; sha256?: string },
  now = new Date(),
): JobItem {
  const at = now.toISOString();
  return {
    id: jobIdFor(project.bucketName, object.key, object.etag),
    projectId: project.id,
    fileId: fileIdFor(project.bucketName, object.key, object.etag),
    fileName: object.fileName,
    bucket: project.bucketName,
    objectKey: object.key,
    etag: object.etag,
    ...queuedJobState(),
    contentType: object.contentType,
    sha256: object.sha256,
    bytesTotal: object.size,
    rowIds: 'ordered',
    createdAt: at,
    updatedAt: at,
  };
}
