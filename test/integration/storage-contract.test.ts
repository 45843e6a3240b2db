// Runs the storage contract suites against every adapter the service ships: objects on
// the filesystem (embedded mode) and in S3 (the fauxqs emulator); records and control
// data in SQLite (embedded mode) and in DynamoDB (AWS's DynamoDB Local, as on AWS).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../src/storage/dynamodb/dynamo-client.js';
import { DynamoControlStore } from '../../src/storage/dynamodb/dynamo-control-store.js';
import { DynamoRateLimitStore } from '../../src/storage/dynamodb/dynamo-rate-limit-store.js';
import { DynamoRecordStore } from '../../src/storage/dynamodb/dynamo-record-store.js';
import { FsObjectStore } from '../../src/storage/fs/fs-object-store.js';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { S3ObjectStore } from '../../src/storage/s3/s3-object-store.js';
import { SqliteControlStore } from '../../src/storage/sqlite/sqlite-control-store.js';
import { SqliteDatabase } from '../../src/storage/sqlite/sqlite-database.js';
import { SqliteRateLimitStore } from '../../src/storage/sqlite/sqlite-rate-limit-store.js';
import { SqliteRecordStore } from '../../src/storage/sqlite/sqlite-record-store.js';
import { freshName } from '../support/contract/contract-helpers.js';
import { describeObjectStoreContract } from '../support/contract/object-store.contract.js';
import { describeKeyedStoreContract } from '../support/contract/keyed-record-store.contract.js';
import { describeRecordAndControlStoreContract } from '../support/contract/record-control-store.contract.js';
import { describeQuarantineStoreContract } from '../support/contract/quarantine-store.contract.js';
import { describeExportJobStoreContract } from '../support/contract/export-job-store.contract.js';
import { describeFieldCatalogStoreContract } from '../support/contract/field-catalog-store.contract.js';
import { describeRecordsSinceContract } from '../support/contract/records-since.contract.js';
import { testAwsEnv } from '../support/endpoints.js';

describeObjectStoreContract('FsObjectStore (embedded)', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-fs-'));
  return {
    store: new FsObjectStore(root),
    close: () => fs.rm(root, { recursive: true, force: true }),
  };
});

describeObjectStoreContract('S3ObjectStore (fauxqs S3 emulator)', async () => {
  const env = testAwsEnv();
  const client = createS3Client({ region: env.region, endpoint: env.s3Endpoint, forcePathStyle: true, credentials: env.credentials });
  return {
    store: new S3ObjectStore(client, env.region, freshName('ct-probe')),
    close: async () => client.destroy(),
  };
});

describeRecordAndControlStoreContract('DynamoDB adapters on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const table = freshName('ct-control');
  const control = new DynamoControlStore(client, table);
  await control.ensureTable();
  return {
    records: new DynamoRecordStore(client, { writeConcurrency: 4 }),
    control,
    rateCounters: (now) => new DynamoRateLimitStore(client, table, now),
    close: async () => client.destroy(),
    // Nothing listens on port 9 (discard): every call fails to connect, as in an outage.
    unavailable: async () => {
      const dead = createDynamoClient({ region: env.region, endpoint: 'http://127.0.0.1:9', credentials: env.credentials, maxAttempts: 1 });
      return {
        records: new DynamoRecordStore(dead, { writeConcurrency: 1 }),
        control: new DynamoControlStore(dead, table),
        close: async () => dead.destroy(),
      };
    },
  };
});

describeRecordAndControlStoreContract('SQLite adapters (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-sqlite-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    records: new SqliteRecordStore(database),
    control: new SqliteControlStore(database),
    rateCounters: (now) => new SqliteRateLimitStore(database, now),
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
    // A database whose connection is gone: what every call meets during shutdown or after a crash of the engine.
    unavailable: async () => {
      const lost = SqliteDatabase.open(path.join(dir, 'lost.db'), { synchronous: 'normal' });
      const stores = { records: new SqliteRecordStore(lost), control: new SqliteControlStore(lost) };
      await stores.records.ensureTable('lost-records');
      lost.close();
      return { ...stores, close: async () => undefined };
    },
  };
});

describeKeyedStoreContract('DynamoDB adapters on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const control = new DynamoControlStore(client, freshName('ct-kcontrol'));
  await control.ensureTable();
  return { records: new DynamoRecordStore(client, { writeConcurrency: 4 }), control, close: async () => client.destroy() };
});

describeKeyedStoreContract('SQLite adapters (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-keyed-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    records: new SqliteRecordStore(database),
    control: new SqliteControlStore(database),
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describeQuarantineStoreContract('DynamoDB control table on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const control = new DynamoControlStore(client, freshName('ct-quarantine'));
  await control.ensureTable();
  return { store: control.quarantine, close: async () => client.destroy() };
});

describeQuarantineStoreContract('SQLite (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-quarantine-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    store: new SqliteControlStore(database).quarantine,
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describeRecordsSinceContract('DynamoDB on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const records = new DynamoRecordStore(client, { writeConcurrency: 4 });
  return {
    records,
    // A table as made before the write-time index: the id key and no GSI.
    legacyTable: async () => {
      const table = freshName('ct-legacy');
      await client.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await records.putRecords(table, [{ id: 'old', data: '{}', source: '{}', ingestedAt: new Date().toISOString() }]);
      return table;
    },
    legacyAnswer: 'indexes_unavailable',
    close: async () => client.destroy(),
  };
});

describeRecordsSinceContract('SQLite (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-since-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    records: new SqliteRecordStore(database),
    // A table as made before the write-time index; the store adds the index on first use.
    legacyTable: async () => {
      const table = freshName('ct-legacy');
      database.db.exec(
        `CREATE TABLE "${table}" (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, source TEXT NOT NULL, ingested_at TEXT NOT NULL, keyed TEXT);
         INSERT INTO "${table}" VALUES ('old', '{}', '{}', '${new Date().toISOString()}', NULL);`,
      );
      return table;
    },
    legacyAnswer: 'served',
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describeFieldCatalogStoreContract('DynamoDB control table on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const control = new DynamoControlStore(client, freshName('ct-catalog'));
  await control.ensureTable();
  return { store: control.catalog, close: async () => client.destroy() };
});

describeFieldCatalogStoreContract('SQLite (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-catalog-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    store: new SqliteControlStore(database).catalog,
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describeExportJobStoreContract('DynamoDB control table on DynamoDB Local', async () => {
  const env = testAwsEnv();
  const client = createDynamoClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  const control = new DynamoControlStore(client, freshName('ct-exports'));
  await control.ensureTable();
  return { store: control.exports, close: async () => client.destroy() };
});

describeExportJobStoreContract('SQLite (embedded)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-contract-exports-'));
  const database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
  return {
    store: new SqliteControlStore(database).exports,
    close: async () => {
      database.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});
