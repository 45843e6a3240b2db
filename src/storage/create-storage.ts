import path from 'node:path';
import type { Config } from '../config.js';
import { createDynamoClient, createS3Client, embeddedClientOptions, reportSdkRetries, type AwsClientOptions } from './aws/clients.js';
import { DynamoControlStore } from './aws/dynamo-control-store.js';
import { DynamoRateLimitStore } from './aws/dynamo-rate-limit-store.js';
import { DynamoRecordStore } from './aws/dynamo-record-store.js';
import { S3ObjectStore } from './aws/s3-object-store.js';
import { startEmbeddedDynamo } from './embedded/dynalite-engine.js';
import { EngineJsonClient } from './embedded/engine-json-client.js';
import { FsObjectStore } from './fs/fs-object-store.js';
import { storageNames } from './names.js';
import type { ObjectStore, Storage } from './ports.js';

export interface StorageHooks {
  onRetry?: (reason: string) => void;
  /** Static credentials (tests against emulators); the default credentials chain otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The embedded engine's thread stopped on its own (embedded mode only). */
  onEngineCrash?: (error: Error) => void;
}

/**
 * Builds the storage adapters for the configured mode. Both modes use the same DynamoDB
 * adapters; only the endpoint (dynalite on its own thread, or AWS) and the object store differ.
 */
export async function createStorage(config: Config, hooks: StorageHooks = {}): Promise<Storage> {
  const names = storageNames(config.namePrefix);
  let clientOptions: AwsClientOptions;
  let objects: ObjectStore;
  let closeEngine: () => Promise<void> = async () => undefined;
  let engineJson: EngineJsonClient | undefined;

  if (config.storage === 'embedded') {
    const engine = await startEmbeddedDynamo(path.join(config.dataDir, 'dynamodb'), { onCrash: hooks.onEngineCrash });
    closeEngine = engine.close;
    engineJson = new EngineJsonClient(engine.requestHandler);
    clientOptions = embeddedClientOptions(engine);
    objects = new FsObjectStore(path.join(config.dataDir, 'objects'));
  } else {
    clientOptions = {
      region: config.aws.region,
      dynamodbEndpoint: config.aws.dynamodbEndpoint,
      s3Endpoint: config.aws.s3Endpoint,
      s3ForcePathStyle: config.aws.s3ForcePathStyle,
      credentials: hooks.credentials,
    };
    const s3 = createS3Client(clientOptions);
    if (hooks.onRetry) reportSdkRetries(s3, 's3', hooks.onRetry);
    objects = new S3ObjectStore(s3, config.aws.region, names.probeBucket);
    closeEngine = async () => s3.destroy();
  }
  const dynamo = createDynamoClient(clientOptions);
  if (hooks.onRetry) reportSdkRetries(dynamo, 'dynamodb', hooks.onRetry);
  const control = new DynamoControlStore(dynamo, names.controlTable);
  const records = new DynamoRecordStore(dynamo, {
    writeConcurrency: config.poller.writeConcurrency,
    onRetry: hooks.onRetry,
    engine: engineJson,
  });
  await control.ensureTable();
  return {
    objects,
    records,
    control,
    rateCounters: new DynamoRateLimitStore(dynamo, names.controlTable),
    async close() {
      dynamo.destroy();
      await closeEngine();
    },
  };
}
