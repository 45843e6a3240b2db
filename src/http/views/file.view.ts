import type { JobItem } from '../../domain/model.js';

/** An uploaded file as the files list shows it: what was received and what its job made of it. */
export function fileView(job: JobItem, expired = false) {
  // Files put straight into incoming/ (not through the API) have no folder of their own and
  // cannot be fetched by id; an expired file's object was deleted by the retention.
  const downloadable = !expired && job.objectKey.split('/').length === 3 && job.objectKey.split('/')[1] === job.fileId;
  return {
    fileId: job.fileId,
    fileName: job.fileName,
    size: job.bytesTotal,
    sha256: job.sha256 ?? null,
    contentType: job.contentType ?? null,
    status: job.status,
    jobId: job.id,
    location: job.objectKey.slice(0, job.objectKey.indexOf('/')),
    expired,
    download: downloadable ? `/v1/projects/${job.projectId}/files/${job.fileId}` : null,
    uploadedAt: job.createdAt,
    finishedAt: job.finishedAt ?? null,
  };
}
