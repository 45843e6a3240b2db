import { Worker } from 'node:worker_threads';
import type { StoredRecord } from '../domain/model.js';
import type { ParquetColumn, ConversionCounts } from './parquet-values.js';
import type { ParquetWorkerData, ParquetWorkerReply, ParquetWorkerRequest } from './parquet-worker.js';

/** Pages handed to the thread and not yet taken in before the reader waits: bounds memory. */
const MAX_PAGES_IN_FLIGHT = 4;

/**
 * The worker's module: the compiled file beside this one, or, when the service runs from its
 * TypeScript sources (npm start, the tests), an entry that loads the source through tsx.
 */
function workerModule(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './parquet-worker-sources.mjs' : './parquet-worker.js', import.meta.url);
}

/**
 * A Parquet part written on a thread of its own. Building row groups, encoding and
 * compressing them is most of a Parquet export's work (about four fifths of it against
 * reading the records): on the server's thread it held up every other request for as long
 * as a row group took, and it could not overlap the reads. Here the server's thread only
 * reads pages and hands them over (a copy each); the thread writes the part's file.
 */
export class ParquetThread {
  private readonly worker: Worker;
  private inFlight = 0;
  private counts: ConversionCounts | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(file: string, columns: readonly ParquetColumn[]) {
    this.worker = new Worker(workerModule(), { workerData: { file, columns: [...columns] } satisfies ParquetWorkerData });
    this.worker.on('message', (reply: ParquetWorkerReply) => {
      if (reply.type === 'taken') this.inFlight--;
      else this.counts = reply.counts;
      this.notify();
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`The Parquet writer thread stopped (exit code ${code}).`)));
  }

  /** Hands a page over; waits while too many are still to be taken in. */
  async add(records: StoredRecord[]): Promise<void> {
    this.post({ type: 'records', records });
    this.inFlight++;
    while (this.inFlight >= MAX_PAGES_IN_FLIGHT) await this.changed();
  }

  /** Writes what is left and the footer; the file is complete when this resolves. */
  async finish(): Promise<ConversionCounts> {
    this.post({ type: 'finish' });
    while (this.counts === undefined) await this.changed();
    return this.counts;
  }

  /** Stops the thread (when done, or to abandon the part). */
  async close(): Promise<void> {
    this.failure ??= new Error('The Parquet writer thread was closed.');
    await this.worker.terminate();
  }

  private post(request: ParquetWorkerRequest): void {
    if (this.failure !== undefined) throw this.failure;
    this.worker.postMessage(request);
  }

  private changed(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.notify();
  }
}
