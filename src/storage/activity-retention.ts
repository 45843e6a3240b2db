/** Hourly ingest counts are kept two days: the overview shows 24 hours. */
export const INGESTED_RETENTION_MS = 48 * 60 * 60 * 1000;
/** Alerts are kept a week, and only the newest of them. */
export const ALERT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
export const MAX_ALERTS_KEPT = 100;
