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
    // The earlier upload with the same content, when this job wrote nothing for that reason.
    duplicateOf: job.duplicateOf ?? null,
    bytesTotal: job.bytesTotal,
    bytesRead: job.bytesRead,
    rowsRead: job.rowsRead,
    recordsWritten: job.recordsWritten,
    rowsRejected: job.rowsRejected,
    // Rows a `filter` cleaning step left out (only when the project's rules skipped some).
    ...(job.rowsSkipped === undefined ? {} : { rowsSkipped: job.rowsSkipped }),
    // Keyed projects only: what each stored row did to its customer's record.
    ...(job.recordsCreated === undefined
      ? {}
      : { recordsCreated: job.recordsCreated, recordsUpdated: job.recordsUpdated ?? 0, recordsUnchanged: job.recordsUnchanged ?? 0 }),
    // Drift, only when the job saw fields the field catalog did not know or known fields with a new type.
    ...(job.newFields === undefined ? {} : { newFields: job.newFields }),
    ...(job.typeChanges === undefined ? {} : { typeChanges: job.typeChanges }),
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
