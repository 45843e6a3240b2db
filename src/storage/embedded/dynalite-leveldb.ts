import { createRequire } from 'node:module';

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
