import type { Config } from '../config.js';
import { DynamoControlStore } from './dynamodb/dynamo-control-store.js';
import { createDynamoClient } from './dynamodb/dynamo-client.js';
import { DynamoRateLimitStore } from './dynamodb/dynamo-rate-limit-store.js';
import { DynamoRecordStore } from './dynamodb/dynamo-record-store.js';
import { storageNames } from './names.js';
import type { Storage } from './ports.js';
import { createS3Client } from './s3/s3-client.js';
import { S3ObjectStore } from './s3/s3-object-store.js';
import { reportSdkRetries } from './sdk-http.js';

export interface StorageHooks {
  onRetry?: (reason: string) => void;
  /** Static credentials (tests against emulators); the default credentials chain otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** For the log: something that is no failure but worth a warning (an S3 store without lifecycle support). */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

/** aws mode: DynamoDB and S3 through the SDK, with the standard AWS settings. */
export async function createAwsStorage(config: Config, hooks: StorageHooks): Promise<Storage> {
  const names = storageNames(config.namePrefix);
  const dynamo = createDynamoClient({
    region: config.aws.region,
    endpoint: config.aws.dynamodbEndpoint,
    credentials: hooks.credentials,
  });
  const s3 = createS3Client({
    region: config.aws.region,
    endpoint: config.aws.s3Endpoint,
    forcePathStyle: config.aws.s3ForcePathStyle,
    credentials: hooks.credentials,
  });
  if (hooks.onRetry) {
    reportSdkRetries(dynamo, 'dynamodb', hooks.onRetry);
    reportSdkRetries(s3, 's3', hooks.onRetry);
  }
  const control = new DynamoControlStore(dynamo, names.controlTable, { idempotencyTtlMs: config.idempotencyTtlHours * 3600_000 });
  await control.ensureTable();
  return {
    objects: new S3ObjectStore(s3, config.aws.region, names.probeBucket, {
      processedRetentionDays: config.processedRetentionDays,
      exportRetentionDays: config.exportJobs.retentionDays,
      onWarning: hooks.onWarning,
    }),
    records: new DynamoRecordStore(dynamo, { writeConcurrency: config.poller.writeConcurrency, onRetry: hooks.onRetry }),
    control,
    rateCounters: new DynamoRateLimitStore(dynamo, names.controlTable),
    async close() {
      dynamo.destroy();
      s3.destroy();
    },
  };
}
