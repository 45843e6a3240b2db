// dynalite closes the LevelDB iterator behind each Query and Scan with `iterator.return()`;
// closeDynaliteIterators gives abstract-level's iterators that method, so none stays open.
// sizeLevelDbWriteBuffer gives dynalite's LevelDB a larger memtable than its default.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeDynaliteIterators, dynaliteRequire, sizeLevelDbWriteBuffer } from '../../src/storage/embedded/dynalite-leveldb.js';

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

interface DiskLevelDb {
  open(): Promise<void>;
  batch(operations: { type: 'put'; key: string; value: string }[]): Promise<void>;
  close(): Promise<void>;
}

describe('sizeLevelDbWriteBuffer', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    sizeLevelDbWriteBuffer();
    await Promise.all(dirs.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });

  /** Writes about 10 MB of random-keyed values into a new database; returns how many table files LevelDB made. */
  async function tablesAfterTenMegabytes(): Promise<number> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-leveldb-'));
    dirs.push(dir);
    const { Level } = dynaliteRequire()('level') as { Level: new (location: string) => DiskLevelDb };
    const db = new Level(dir);
    await db.open();
    const value = 'v'.repeat(1000);
    for (let batch = 0; batch < 100; batch++) {
      await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `${(batch * 7919 + i * 104729) % 1_000_003}-${batch}-${i}`, value })));
    }
    await db.close();
    return (await fs.readdir(dir)).filter((name) => name.endsWith('.ldb')).length;
  }

  it('keeps ten megabytes in memory with the 16 MiB buffer, where 4 MiB flushes tables to disk', async () => {
    sizeLevelDbWriteBuffer(4 << 20);
    expect(await tablesAfterTenMegabytes()).toBeGreaterThan(0);
    sizeLevelDbWriteBuffer();
    expect(await tablesAfterTenMegabytes()).toBe(0);
  });
});
