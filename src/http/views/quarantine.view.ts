import type { QuarantineEntry } from '../../quality/quarantine/quarantine-entry.js';

/** A quarantine entry as the API shows it: its expiry as a time, the job (or null) beside the source. */
export function quarantineEntryView(entry: QuarantineEntry) {
  return {
    id: entry.id,
    jobId: entry.jobId ?? null,
    raw: entry.raw,
    reason: entry.reason,
    source: entry.source,
    modelVersion: entry.modelVersion,
    createdAt: entry.createdAt,
    expiresAt: new Date(entry.expiresAt).toISOString(),
  };
}
