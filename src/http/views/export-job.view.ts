import type { ExportJob } from '../../export/export-job.js';

/** An export job as the API shows it: no lease, no resume position; expiresAt as ExportJobs.expiresAt tells. */
export function exportJobView(job: ExportJob, expiresAt: string | null) {
  const base = `/v1/projects/${job.projectId}/exports/${job.id}/files`;
  return {
    id: job.id,
    status: job.status,
    format: job.format,
    gzip: job.gzip,
    since: job.since ?? null,
    fields: job.fields ?? null,
    progress: { records: job.records, bytes: job.bytes, parts: job.parts.length },
    parts: job.parts.map((part) => ({ name: part.name, records: part.records, bytes: part.bytes, sha256: part.sha256, url: `${base}/${part.name}` })),
    manifest: job.status === 'succeeded' ? `${base}/manifest.json` : null,
    bucketPrefix: `exports/${job.id}/`,
    snapshotStartedAt: job.snapshotStartedAt ?? null,
    expiresAt,
    attempts: job.attempts,
    failure: job.failure ?? null,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt ?? null,
    finishedAt: job.finishedAt ?? null,
  };
}
