import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type IntakeApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createServices, type Services } from '../../src/services.js';
import { createStorage } from '../../src/storage/create-storage.js';
import type { Storage } from '../../src/storage/ports.js';
import { testAwsEnv, uniqueName } from './endpoints.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

export interface TestApp {
  app: IntakeApp;
  config: Config;
  storage: Storage;
  services: Services;
  logger: Logger;
  metrics: Metrics;
  adminToken: string;
  /** Authorization header for the admin token. */
  admin: { Authorization: string };
  prefix: string;
  close(): Promise<void>;
}

/**
 * The app in `aws` mode against the emulators started by the global setup (DynamoDB Local
 * and the S3 emulator), with a name prefix of its own so test files never share tables or
 * buckets. `env` overrides any setting. Use `mode: 'embedded'` for SQLite + files.
 */
export async function createTestApp(
  options: { env?: Record<string, string>; mode?: 'aws' | 'embedded'; logStream?: NodeJS.WritableStream } = {},
): Promise<TestApp> {
  const prefix = `${uniqueName('t')}-`;
  const mode = options.mode ?? 'aws';
  let dataDir: string | undefined;
  let env: Record<string, string> = {
    INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    INTAKE_NAME_PREFIX: prefix,
    INTAKE_LOG_LEVEL: 'silent',
    INTAKE_STORAGE: mode,
  };
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (mode === 'aws') {
    const aws = testAwsEnv();
    env = { ...env, AWS_REGION: aws.region, AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint, AWS_ENDPOINT_URL_S3: aws.s3Endpoint };
    credentials = { ...aws.credentials };
  } else {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-test-'));
    env.INTAKE_DATA_DIR = dataDir;
  }
  const config = loadConfig({ ...env, ...options.env });
  const logger = createLogger({ level: config.logLevel, secrets: [TEST_ADMIN_TOKEN], stream: options.logStream });
  const metrics = createMetrics();
  const storage = await createStorage(config, { credentials, onRetry: (reason) => metrics.storageRetries.inc({ reason }) });
  const services = createServices(config, storage, TEST_ADMIN_TOKEN);
  const app = createApp({ config, storage, services, logger, metrics, adminToken: TEST_ADMIN_TOKEN });
  return {
    app,
    config,
    storage,
    services,
    logger,
    metrics,
    adminToken: TEST_ADMIN_TOKEN,
    admin: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    prefix,
    async close() {
      await services.exportJobs.stop();
      await services.uploads.close();
      await storage.close();
      if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
