import dynalite from 'dynalite';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

interface IteratorPrototype {
  close(): Promise<void>;
  return?: () => Promise<{ done: true; value: undefined }>;
}

/**
 * dynalite ends the LevelDB iterator behind every Query and Scan with `iterator.return()`,
 * which abstract-level's iterators do not have (they have `close()`), so each one stayed
 * open. An open iterator pins the table files it started on: LevelDB then never deletes
 * the files compaction replaces, and the database on disk, its memory maps and the
 * process's memory grow with every poll and every page read (a 300k-row ingest left 2 GB
 * of files for 150 MB of data). Giving the iterators the `return()` dynalite calls closes
 * them. The classes are found from dynalite's own dependencies, the copies it uses.
 */
export function closeDynaliteIterators(): void {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const fromClassicLevel = createRequire(fromDynalite.resolve('classic-level'));
  const { AbstractIterator } = fromClassicLevel('abstract-level') as { AbstractIterator: { prototype: object } };
  // The common base of entry, key and value iterators.
  const common = Object.getPrototypeOf(AbstractIterator.prototype) as IteratorPrototype;
  if (typeof common.close !== 'function' || typeof common.return === 'function') return;
  common.return = async function (this: IteratorPrototype) {
    await this.close();
    return { done: true, value: undefined };
  };
}

/**
 * DynamoDB for the embedded mode: dynalite on LevelDB under the data dir, served on a
 * loopback port so the same SDK adapters speak the real DynamoDB API to it.
 */
export async function startEmbeddedDynamo(dir: string): Promise<EmbeddedDynamo> {
  closeDynaliteIterators();
  await fs.mkdir(dir, { recursive: true });
  const server: Server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
