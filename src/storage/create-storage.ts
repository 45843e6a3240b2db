import path from 'node:path';
import type { Config } from '../config.js';
import { FsObjectStore } from './fs/fs-object-store.js';
import { assertNoEarlierEmbeddedData, embeddedDatabaseFile } from './embedded-data-dir.js';
import type { Storage } from './ports.js';
import type { StorageHooks } from './create-aws-storage.js';
import { SqliteControlStore } from './sqlite/sqlite-control-store.js';
import { SqliteDatabase } from './sqlite/sqlite-database.js';
import { SqliteRateLimitStore } from './sqlite/sqlite-rate-limit-store.js';
import { SqliteRecordStore } from './sqlite/sqlite-record-store.js';

export type { StorageHooks };

/** Builds the storage adapters for the configured mode. */
export async function createStorage(config: Config, hooks: StorageHooks = {}): Promise<Storage> {
  if (config.storage === 'embedded') return createEmbeddedStorage(config);
  // Loaded only in aws mode: the AWS SDK's modules are hundreds of files to load at start-up
  // and about 6 MiB of a server's memory, which the embedded store has no use for.
  const { createAwsStorage } = await import('./create-aws-storage.js');
  return createAwsStorage(config, hooks);
}

/** Embedded mode: SQLite for records and control data, files for objects, all under the data directory. */
function createEmbeddedStorage(config: Config): Storage {
  assertNoEarlierEmbeddedData(config.dataDir);
  const database = SqliteDatabase.open(embeddedDatabaseFile(config.dataDir), config.embedded);
  return {
    objects: new FsObjectStore(path.join(config.dataDir, 'objects')),
    records: new SqliteRecordStore(database),
    control: new SqliteControlStore(database, { idempotencyTtlMs: config.idempotencyTtlHours * 3600_000 }),
    rateCounters: new SqliteRateLimitStore(database),
    async close() {
      database.close();
    },
  };
}
