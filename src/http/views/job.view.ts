import type { JobItem } from '../../domain/model.js';

/** The job as the API shows it: no lease internals. */
export function jobView(job: JobItem) {
  return {
    id: job.id,
    projectId: job.projectId,
    fileId: job.fileId,
    fileName: job.fileName,
    objectKey: job.objectKey,
    status: job.status,
    format: job.format,
    sha256: job.sha256 ?? null,
    bytesTotal: job.bytesTotal,
    bytesRead: job.bytesRead,
    rowsRead: job.rowsRead,
    recordsWritten: job.recordsWritten,
    rowsRejected: job.rowsRejected,
    errors: job.errors,
    errorReportKey: job.errorReportKey ?? null,
    notices: job.notices,
    failure: job.failure ?? null,
    attempts: job.attempts,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? null,
    finishedAt: job.finishedAt ?? null,
    updatedAt: job.updatedAt,
  };
}
