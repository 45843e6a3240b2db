// Two changes to the LevelDB under dynalite, made on the classes dynalite itself loads
// (found from its own dependencies: the copies it uses, wherever npm placed them).
import { createRequire } from 'node:module';

/** `require` as dynalite's own module sees it. */
export function dynaliteRequire(): NodeJS.Require {
  return createRequire(createRequire(import.meta.url).resolve('dynalite'));
}

function classicLevelRequire(): NodeJS.Require {
  return createRequire(dynaliteRequire().resolve('classic-level'));
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
 * them.
 */
export function closeDynaliteIterators(): void {
  const { AbstractIterator } = classicLevelRequire()('abstract-level') as { AbstractIterator: { prototype: object } };
  // The common base of entry, key and value iterators.
  const common = Object.getPrototypeOf(AbstractIterator.prototype) as IteratorPrototype;
  if (typeof common.close !== 'function' || typeof common.return === 'function') return;
  common.return = async function (this: IteratorPrototype) {
    await this.close();
    return { done: true, value: undefined };
  };
}

/** The write buffer embedded mode gives LevelDB (its default is 4 MiB). */
export const LEVELDB_WRITE_BUFFER_BYTES = 16 << 20;

interface ClassicLevelPrototype {
  _open(this: unknown, options: Record<string, unknown>): Promise<void>;
  intakeWriteBufferBytes?: number;
}

/**
 * Opens dynalite's LevelDB with a write buffer (memtable) of `bytes`, which dynalite has
 * no option for. Record ids are hashes, so every key range gets writes: with LevelDB's
 * 4 MiB buffer each flushed table overlaps all of level 1, and compaction rewrites the
 * database's lower levels again and again as it grows. Direct BatchWriteItem of 1M rows
 * ran at 13.7k-15.6k rows/s with 4 MiB and 17.0k-18.2k with 16 MiB (32 MiB: 15.4k-16.9k),
 * for about 30 MB more peak RSS. Options given to open() still win.
 */
export function sizeLevelDbWriteBuffer(bytes = LEVELDB_WRITE_BUFFER_BYTES): void {
  const { ClassicLevel } = classicLevelRequire()('classic-level') as { ClassicLevel: { prototype: ClassicLevelPrototype } };
  const proto = ClassicLevel.prototype;
  if (proto.intakeWriteBufferBytes === undefined) {
    const open = proto._open;
    proto._open = function (this: unknown, options: Record<string, unknown>) {
      return open.call(this, { writeBufferSize: proto.intakeWriteBufferBytes, ...options });
    };
  }
  proto.intakeWriteBufferBytes = bytes;
}
