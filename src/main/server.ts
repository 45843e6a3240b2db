import type { Server } from 'node:http';
import { createApp } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { createHttpServer } from '../http/http-server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createServices } from '../services.js';
import { Poller } from '../ingest/poller.js';
import { createStorage } from '../storage/create-storage.js';
import { resolveAdminToken } from './admin-token.js';

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
  const admin = await resolveAdminToken(config);
  const logger = createLogger({ level: config.logLevel, secrets: [admin.token] });
  const metrics = createMetrics();
  const started = Date.now();
  const storage = await createStorage(config, {
    onRetry: (reason) => metrics.storageRetries.inc({ reason }),
  });
  let poller: Poller | undefined;
  const services = createServices(config, storage, admin.token, () => poller?.wake());
  if (config.poller.enabled) {
    poller = new Poller(
      { ...storage, projects: services.projects, logger, metrics },
      {
        intervalMs: config.poller.intervalMs,
        maxIdleIntervalMs: Math.max(config.poller.intervalMs, 15_000),
        concurrency: config.poller.concurrency,
        leaseMs: config.poller.leaseMs,
        maxDecompressedBytes: config.limits.maxDecompressedBytes,
        settleMs: 2000,
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
  logger.info('intake started', {
    event: 'started',
    port,
    storage: config.storage,
    dataDir: config.storage === 'embedded' ? config.dataDir : undefined,
    startupMs: Date.now() - started,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    accepting = false;
    logger.info('shutting down', { event: 'shutdown_started', signal });
    const deadline = setTimeout(() => {
      logger.error('shutdown timed out; exiting', { event: 'shutdown_timeout' });
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // In-flight requests (uploads included) finish while the poller checkpoints and lets go of its leases.
    await Promise.all([closeServer(server, logger), poller?.stop()]);
    await storage.close();
    logger.info('stopped', { event: 'stopped' });
    clearTimeout(deadline);
    logger.on('finish', () => process.exit(0));
    logger.end();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Stops accepting connections, lets in-flight requests finish, and closes idle keep-alive sockets. */
function closeServer(server: Server, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    server.close((error) => {
      if (error) logger.warn('server close reported an error', { error: error.message });
      resolve();
    });
    server.closeIdleConnections();
  });
}

main().catch((error: unknown) => {
  console.error('Intake failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
