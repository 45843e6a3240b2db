import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDynamoClient } from './dynamo-client.js';
import { countItems, getPlainItem, scanTable, tableExists, type PlainItem } from './scan-table.js';

/** Read access to the tables an earlier release kept in its emulated DynamoDB. */
export interface EarlierEmbeddedTables {
  exists(table: string): Promise<boolean>;
  scan(table: string): AsyncIterable<PlainItem[]>;
  count(table: string): Promise<number>;
  get(table: string, key: PlainItem): Promise<PlainItem | null>;
  close(): Promise<void>;
}

/** The engine answers nothing but this process on the loopback port; it checks no signature. */
const LOCAL_CREDENTIALS = { accessKeyId: 'intake-migration', secretAccessKey: 'intake-migration' };

/**
 * Opens the LevelDB directory an earlier release wrote (`<dataDir>/dynamodb`) with plain
 * dynalite, the engine that wrote it, served in this process on a loopback port and read
 * through the DynamoDB SDK like any DynamoDB. Reading only: nothing is written to it, but
 * LevelDB itself may fold its log into a table file on open, as it did on every start of
 * the earlier release; the data stays the same.
 */
export async function openEarlierEmbeddedTables(dir: string): Promise<EarlierEmbeddedTables> {
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const server: Server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const client: DynamoDBClient = createDynamoClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 3,
    maxSockets: 4,
  });
  let closed = false;
  return {
    exists: (table) => tableExists(client, table),
    scan: (table) => scanTable(client, table),
    count: (table) => countItems(client, table),
    get: (table, key) => getPlainItem(client, table, key),
    close: async () => {
      if (closed) return;
      closed = true;
      client.destroy();
      // dynalite's close also closes its LevelDB, releasing the directory's LOCK.
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
