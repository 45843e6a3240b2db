import type { Server } from 'node:http';
import { createApp } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { createHttpServer } from '../http/http-server.js';
import { Alerter } from '../observability/alerts.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { watchStorageFailures } from '../observability/storage-watch.js';
import { createServices } from '../services.js';
import { Poller } from '../ingest/poller.js';
import { ProcessedRetention } from '../ingest/processed-retention.js';
import { PREFIXES } from '../storage/object-keys.js';
import { createStorage } from '../storage/create-storage.js';
import { assertNoEarlierEmbeddedData } from '../storage/embedded-data-dir.js';
import { resolveAdminToken } from './admin-token.js';
import { GracefulShutdown } from './graceful-shutdown.js';

/** Entry point: HTTP server (and the background poller) for one task. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  // Before anything writes to the data directory: a start refused over an earlier
  // release's data must leave that directory as it found it (no generated admin token).
  if (config.storage === 'embedded') assertNoEarlierEmbeddedData(config.dataDir);
  const admin = await resolveAdminToken(config);
  // A Slack webhook URL carries its own credential: it is masked like the admin token.
  const secrets = [admin.token, config.alertWebhookUrl, config.metricsToken].filter((s): s is string => s !== undefined);
  const logger = createLogger({ level: config.logLevel, secrets });
  const metrics = createMetrics();
  const alerter = new Alerter({ webhookUrl: config.alertWebhookUrl, logger, metrics });
  const started = Date.now();
  const storage = watchStorageFailures(
    await createStorage(config, {
      onRetry: (reason) => metrics.storageRetries.inc({ reason }),
      onWarning: (message, fields) => logger.warn(message, fields),
    }),
    (failure) => alerter.storageFailed(failure),
  );
  let poller: Poller | undefined;
  const services = createServices(config, storage, admin.token, () => poller?.wake(), logger);
  // The console lists the latest alerts from the control store, webhook or not.
  alerter.onAlert = (alert) =>
    void services.overview.recordAlert(alert).catch((error: unknown) =>
      logger.warn('alert not kept for the console', { event: 'alert_record_failed', kind: alert.kind, error: String(error) }),
    );
  services.records.onFieldDrift = (project, drift) => {
    if (project.model?.driftAlerts === true) alerter.pushDrift(project.id, drift);
  };
  // aws mode: a lifecycle rule on each project bucket does this (S3ObjectStore.ensureBucket).
  const retention =
    config.storage === 'embedded'
      ? new ProcessedRetention(storage.objects, () => services.projects.all(), {
          days: config.processedRetentionDays,
          onSwept: (deleted) => logger.info('expired uploads deleted', { event: 'processed_retention_swept', deleted }),
          onError: (error) => logger.warn('processed retention sweep failed', { event: 'processed_retention_failed', error: String(error) }),
        })
      : undefined;
  const exportRetention =
    config.storage === 'embedded'
      ? new ProcessedRetention(storage.objects, () => services.projects.all(), {
          days: config.exportJobs.retentionDays,
          prefix: PREFIXES.exports,
          onSwept: (deleted) => logger.info('expired export objects deleted', { event: 'export_retention_swept', deleted }),
          onError: (error) => logger.warn('export retention sweep failed', { event: 'export_retention_failed', error: String(error) }),
        })
      : undefined;
  if (config.poller.enabled) {
    poller = new Poller(
      {
        ...storage,
        projects: services.projects,
        logger,
        metrics,
        onJobFinished: (job) => alerter.jobFinished(job),
        onFieldDrift: (job) => alerter.fieldDrift(job),
        resumeDeletion: (project) => services.deletions.resume(project),
        resumeBackfill: (project, job) => services.backfill.resume(project, job),
        resumeExports: (project) => services.exportJobs.resume(project),
      },
      {
        intervalMs: config.poller.intervalMs,
        // Backing off below the busy interval would poll an idle system harder than a busy one.
        maxIdleIntervalMs: Math.max(config.poller.intervalMs, config.poller.maxIdleIntervalMs),
        settleMs: config.poller.settleMs,
        concurrency: config.poller.concurrency,
        writeConcurrency: config.poller.writeConcurrency,
        leaseMs: config.poller.leaseMs,
        checkpointIntervalMs: config.poller.checkpointIntervalMs,
        maxAttempts: config.poller.maxAttempts,
        maxDecompressedBytes: config.limits.maxDecompressedBytes,
        // A record a push refuses as too deep is refused in a file too.
        maxRecordDepth: config.limits.maxJsonDepth,
        maxInflationRatio: config.limits.maxInflationRatio,
        quarantineRetentionDays: config.quarantineRetentionDays,
      },
    );
  }

  let accepting = true;
  const app = createApp({
    config,
    storage,
    services,
    logger,
    metrics,
    adminToken: admin.token,
    lifecycle: { accepting: () => accepting },
  });

  const server: Server = createHttpServer(app, config.http, logger).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  poller?.start();

  if (admin.generatedAt) {
    // Shown once, on the start that generated it; the log stream never carries it.
    console.log(
      `\nIntake generated an admin token (kept in ${admin.file}):\n\n  ${admin.token}\n\n` +
        'Use it as "Authorization: Bearer <token>" on the admin routes.\n',
    );
  }
  retention?.start();
  exportRetention?.start();
  logger.info('intake started', {
    event: 'started',
    port,
    storage: config.storage,
    dataDir: config.storage === 'embedded' ? config.dataDir : undefined,
    startupMs: Date.now() - started,
  });

  new GracefulShutdown({
    server,
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    drainDelayMs: config.shutdownDrainDelayMs,
    stopAccepting: () => {
      accepting = false;
    },
    stopWork: async () => {
      await Promise.all([poller?.stop(), services.exportJobs.stop(), retention?.stop(), exportRetention?.stop()]);
    },
    closeResources: async (remainingMs) => {
      await alerter.close(Math.min(5000, remainingMs));
      await services.uploads.close();
      await storage.close();
    },
  }).listen();
}

main().catch((error: unknown) => {
  console.error('Intake failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
