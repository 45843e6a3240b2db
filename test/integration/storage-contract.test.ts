// Runs the storage contract suites against every adapter the service ships:
// objects on the filesystem (embedded mode) and in S3 (the fauxqs emulator), and the
// DynamoDB adapters on DynamoDB Local (as on AWS) and on dynalite, reached as embedded
// mode reaches it (over its thread's transport, record calls without the SDK).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDynamoClient, createS3Client } from '../../src/storage/aws/clients.js';
import { DynamoControlStore } from '../../src/storage/aws/dynamo-control-store.js';
import { DynamoRecordStore } from '../../src/storage/aws/dynamo-record-store.js';
import { S3ObjectStore } from '../../src/storage/aws/s3-object-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';
import { EngineJsonClient } from '../../src/storage/embedded/engine-json-client.js';
import { FsObjectStore } from '../../src/storage/fs/fs-object-store.js';
import { freshName } from '../support/contract/contract-helpers.js';
import { describeObjectStoreContract } from '../support/contract/object-store.contract.js';
import {
  describeRecordAndControlStoreContract,
  type RecordAndControlStoreFixture,
} from '../support/contract/record-control-store.contract.js';
import { testAwsEnv } from '../support/endpoints.js';

async function dynamoFixture(options: {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The embedded engine, wired as embedded mode wires it (its transport, and direct record calls). */
  engine?: EmbeddedDynamo;
}): Promise<Omit<RecordAndControlStoreFixture, 'close'> & { destroy(): void }> {
  const client = createDynamoClient({
    region: options.region,
    dynamodbEndpoint: options.endpoint,
    credentials: options.credentials,
    dynamodbRequestHandler: options.engine?.requestHandler,
  });
  const control = new DynamoControlStore(client, freshName('ct-control'));
  await control.ensureTable();
  const engine = options.engine ? new EngineJsonClient(options.engine.requestHandler) : undefined;
  return { records: new DynamoRecordStore(client, { writeConcurrency: 4, engine }), control, destroy: () => client.destroy() };
}

describeObjectStoreContract('FsObjectStore (embedded)', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-fs-'));
  return {
    store: new FsObjectStore(root),
    close: () => fs.rm(root, { recursive: true, force: true }),
  };
});

describeObjectStoreContract('S3ObjectStore (fauxqs S3 emulator)', async () => {
  const env = testAwsEnv();
  const client = createS3Client({
    region: env.region,
    s3Endpoint: env.s3Endpoint,
    s3ForcePathStyle: true,
    credentials: env.credentials,
  });
  return {
    store: new S3ObjectStore(client, env.region, freshName('ct-probe')),
    close: async () => client.destroy(),
  };
});

describeRecordAndControlStoreContract('DynamoDB adapters on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const fixture = await dynamoFixture({ endpoint: env.dynamodbEndpoint, region: env.region, credentials: env.credentials });
  return { ...fixture, close: async () => fixture.destroy() };
});

describeRecordAndControlStoreContract('DynamoDB adapters on dynalite (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-dynalite-'));
  const engine = await startEmbeddedDynamo(dir);
  const fixture = await dynamoFixture({
    endpoint: engine.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    engine,
  });
  return {
    ...fixture,
    close: async () => {
      fixture.destroy();
      await engine.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});
