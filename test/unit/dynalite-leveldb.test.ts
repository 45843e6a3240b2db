// dynalite closes the LevelDB iterator behind each Query and Scan with `iterator.return()`;
// closeDynaliteIterators gives abstract-level's iterators that method, so none stays open.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { closeDynaliteIterators } from '../../src/storage/embedded/dynalite-iterators.js';

interface Iterator {
  next(): Promise<unknown>;
  return?: () => Promise<unknown>;
}
interface MemoryLevelDb {
  open(): Promise<void>;
  put(key: string, value: string): Promise<void>;
  values(): Iterator;
  close(): Promise<void>;
}

/** An in-memory level database built from the same abstract-level copy dynalite uses. */
function memoryLevel(): MemoryLevelDb {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { MemoryLevel } = fromDynalite('memory-level') as { MemoryLevel: new () => MemoryLevelDb };
  return new MemoryLevel();
}

describe('closeDynaliteIterators', () => {
  it('gives iterators the return() dynalite calls, and it closes them', async () => {
    closeDynaliteIterators();
    const db = memoryLevel();
    await db.open();
    await db.put('a', '1');
    await db.put('b', '2');
    const iterator = db.values();
    expect(await iterator.next()).toBe('1');
    expect(typeof iterator.return).toBe('function');
    await iterator.return!();
    await expect(iterator.next()).rejects.toMatchObject({ code: 'LEVEL_ITERATOR_NOT_OPEN' });
    await db.close();
  });

  it('is idempotent', () => {
    closeDynaliteIterators();
    closeDynaliteIterators();
    const iterator = memoryLevel().values();
    expect(typeof iterator.return).toBe('function');
  });
});
