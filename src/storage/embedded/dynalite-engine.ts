import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { EngineRequestHandler } from './engine-transport.js';
import type { EngineMessage, EngineWorkerData } from './dynalite-worker.js';

const CLOSE_BOUND_MS = 10_000;

export interface EmbeddedDynamo {
  /** The engine's loopback port, for any DynamoDB client. */
  endpoint: string;
  /** The SDK request handler that reaches the engine without the loopback port (give it the endpoint too). */
  requestHandler: EngineRequestHandler;
  close(): Promise<void>;
}

export interface EmbeddedDynamoOptions {
  /** Called if the engine's thread stops on its own: storage is gone until a restart. */
  onCrash?: (error: Error) => void;
  /** LevelDB's write buffer (memtable) in bytes; LEVELDB_WRITE_BUFFER_BYTES unless given. */
  writeBufferBytes?: number;
}

/**
 * The worker's entry. Compiled (dist/), it is the .js next to this file. From source
 * (`npm start`, tests), Node cannot load a .ts worker entry by itself and module hooks
 * registered with --import do not reach worker threads, so a one-line bootstrap registers
 * tsx in the worker first and then imports the .ts entry.
 */
function workerEntry(): { entry: string | URL; eval: boolean } {
  const here = fileURLToPath(import.meta.url);
  if (path.extname(here) !== '.ts') return { entry: new URL('./dynalite-worker.js', import.meta.url), eval: false };
  // The ESM entry of tsx's API, resolved from here (not from the working directory).
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = pathToFileURL(path.join(path.dirname(here), 'dynalite-worker.ts')).href;
  const bootstrap =
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(worker)}); })` +
    `.catch((error) => { process.nextTick(() => { throw error; }); });`;
  return { entry: bootstrap, eval: true };
}

/**
 * DynamoDB for the embedded mode: dynalite on LevelDB under the data dir, speaking the
 * real DynamoDB API so the same SDK adapters work in both modes. Intake's client reaches
 * it through `requestHandler` (a MessagePort); any other client through the loopback port.
 *
 * The engine runs on its own thread. In the server's thread it took about a third of the
 * time of every write (HTTP parsing, validation and LevelDB calls of dynalite), time the
 * server could not spend answering requests or parsing files; on its own thread that work
 * runs beside the server's on another core.
 */
export async function startEmbeddedDynamo(dir: string, options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const { entry, eval: isEval } = workerEntry();
  const channel = new MessageChannel();
  const worker = new Worker(entry, {
    eval: isEval,
    workerData: { dir, transport: channel.port2, writeBufferBytes: options.writeBufferBytes } satisfies EngineWorkerData,
    transferList: [channel.port2],
  });
  const requestHandler = new EngineRequestHandler(channel.port1);
  // The transport never keeps the process alive by itself (requests in flight have a timer);
  // after the handler's listener, which refs the port again.
  channel.port1.unref();
  let closing = false;
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: EngineMessage) => {
      if (message.type !== 'listening') return;
      worker.off('error', reject);
      worker.off('exit', onEarlyExit);
      worker.off('message', onMessage);
      resolve(message.port);
    };
    const onEarlyExit = (code: number) => reject(new Error(`The embedded DynamoDB engine stopped while starting (exit code ${code}).`));
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', onEarlyExit);
  });
  let lastError: Error | undefined;
  worker.on('error', (error) => {
    lastError = error;
  });
  worker.once('exit', (code) => {
    const error = lastError ?? new Error(`The embedded DynamoDB engine stopped (exit code ${code}).`);
    requestHandler.fail(closing ? new Error('The embedded DynamoDB engine is closed.') : error);
    channel.port1.close();
    if (!closing) options.onCrash?.(error);
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requestHandler,
    close: async () => {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => {
        // The worker closes its server and LevelDB, answers, and then has nothing left to
        // run. A close that hangs (a connection that never ends) is cut after a bound.
        const bound = setTimeout(() => void worker.terminate(), CLOSE_BOUND_MS);
        worker.once('exit', () => {
          clearTimeout(bound);
          resolve();
        });
        worker.postMessage({ type: 'close' });
      });
    },
  };
}
