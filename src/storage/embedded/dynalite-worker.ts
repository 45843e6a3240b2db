// The embedded DynamoDB engine's thread: dynalite on LevelDB, served on a loopback port
// and on the transport port (EngineRequestHandler's requests). Started by
// startEmbeddedDynamo; answers `{ type: 'listening', port }` once it accepts connections
// and `{ type: 'closed' }` once a `{ type: 'close' }` has closed both and the database.
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { installBatchWriteFastPath } from './dynalite-batch-write.js';
import { closeDynaliteIterators, sizeLevelDbWriteBuffer } from './dynalite-leveldb.js';
import { ownedBytes, type EngineRequest, type EngineResponse } from './engine-transport.js';

export interface EngineWorkerData {
  dir: string;
  /** Where the server's SDK client sends requests without going through the loopback port. */
  transport: MessagePort;
  writeBufferBytes?: number;
}

export type EngineMessage = { type: 'listening'; port: number } | { type: 'closed' };

const { dir, transport, writeBufferBytes } = workerData as EngineWorkerData;
const port = parentPort!;

closeDynaliteIterators();
sizeLevelDbWriteBuffer(writeBufferBytes);
// Loaded only now: the BatchWriteItem fast path must be in place before dynalite loads.
installBatchWriteFastPath();
const { default: dynalite } = await import('dynalite');
await fs.mkdir(dir, { recursive: true });
const server: Server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => resolve());
});

/**
 * Serves one request from the transport with dynalite's own HTTP handler, through a
 * request and a response that carry only what that handler reads and writes.
 */
function serve(message: EngineRequest): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) headers[name.toLowerCase()] = value;
  const req = Object.assign(new EventEmitter(), { method: message.method, url: message.url, headers });
  const answerHeaders: Record<string, string> = {};
  const res = {
    statusCode: 200,
    setHeader(name: string, value: unknown) {
      answerHeaders[name.toLowerCase()] = String(value);
    },
    end(body?: string | Buffer) {
      const answer: EngineResponse = {
        type: 'response',
        id: message.id,
        status: res.statusCode,
        headers: answerHeaders,
        body: ownedBytes(body),
      };
      transport.postMessage(answer, [answer.body.buffer]);
    },
  };
  server.emit('request', req, res);
  const body = message.body;
  if (body.byteLength > 0) req.emit('data', Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  req.emit('end');
}

transport.on('message', (message: EngineRequest) => {
  if (message.type === 'request') serve(message);
});

port.on('message', (message: { type: string }) => {
  if (message.type !== 'close') return;
  transport.close();
  server.closeAllConnections?.();
  server.close(() => {
    port.postMessage({ type: 'closed' } satisfies EngineMessage);
    port.close();
  });
});
port.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies EngineMessage);
