// The embedded DynamoDB engine's thread: dynalite on LevelDB, served on a loopback port.
// Started by startEmbeddedDynamo; answers `{ type: 'listening', port }` once it accepts
// connections and `{ type: 'closed' }` once a `{ type: 'close' }` has closed the server and
// the database.
import dynalite from 'dynalite';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { closeDynaliteIterators } from './dynalite-iterators.js';

export interface EngineWorkerData {
  dir: string;
}

export type EngineMessage = { type: 'listening'; port: number } | { type: 'closed' };

const { dir } = workerData as EngineWorkerData;
const port = parentPort!;

closeDynaliteIterators();
await fs.mkdir(dir, { recursive: true });
const server: Server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => resolve());
});
port.on('message', (message: { type: string }) => {
  if (message.type !== 'close') return;
  server.closeAllConnections?.();
  server.close(() => {
    port.postMessage({ type: 'closed' } satisfies EngineMessage);
    port.close();
  });
});
port.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies EngineMessage);
