import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per service instance (no globals, so tests can build
 * many apps in one process). Names are stable: dashboards and alarms depend on them.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'intake_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'intake_http_requests_total',
      help: 'HTTP requests by method, route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'intake_http_request_duration_seconds',
      help: 'HTTP request latency by method and route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    }),
    recordsAccepted: new Counter({
      name: 'intake_records_accepted_total',
      help: 'Records stored, by source (api or file).',
      labelNames: ['source'] as const,
      registers,
    }),
    recordsRejected: new Counter({
      name: 'intake_records_rejected_total',
      help: 'Records rejected, by source and code.',
      labelNames: ['source', 'code'] as const,
      registers,
    }),
    uploadBytes: new Counter({
      name: 'intake_upload_bytes_total',
      help: 'Bytes of files accepted by uploads.',
      registers,
    }),
    jobs: new Counter({
      name: 'intake_jobs_total',
      help: 'File jobs finished, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'intake_job_duration_seconds',
      help: 'Time from claim to finish of a file job.',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    }),
    pollerLag: new Gauge({
      name: 'intake_poller_lag_seconds',
      help: 'Age of the oldest unclaimed object under incoming/ at the last poll.',
      registers,
    }),
    storageRetries: new Counter({
      name: 'intake_storage_retries_total',
      help: 'Storage calls retried, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    authFailures: new Counter({
      name: 'intake_auth_failures_total',
      help: 'Failed authentications, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'intake_rate_limited_total',
      help: 'Requests refused by a rate limit, by kind.',
      labelNames: ['kind'] as const,
      registers,
    }),
    fieldDrift: new Counter({
      name: 'intake_field_drift_total',
      help: 'Fields file jobs found new to the field catalog (new_field) or with a new JSON type (type_change), once per field per job.',
      labelNames: ['kind'] as const,
      registers,
    }),
    alerts: new Counter({
      name: 'intake_alerts_total',
      help: 'Webhook alerts by kind (job, storage, summary) and outcome (sent, failed, dropped, deduplicated, suppressed).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
