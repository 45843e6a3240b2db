// The Parquet writer thread on its own: pages in, a complete file out, and a failure of the
// thread reaches the caller instead of leaving it waiting.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/domain/model.js';
import { ParquetThread } from '../../src/export/parquet-thread.js';
import type { ParquetColumn } from '../../src/export/parquet-values.js';

const columns: ParquetColumn[] = [
  { name: 'id', kind: 'string' },
  { name: 'n', kind: 'double', path: ['n'] },
];

const record = (i: number): StoredRecord => ({
  id: `r${String(i).padStart(6, '0')}`,
  data: `{"n":${i === 7 ? '12345678901234567890' : i}}`,
  source: '{"type":"api"}',
  ingestedAt: '2026-01-01T00:00:00.000Z',
});

describe('ParquetThread', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'intake-parquet-thread-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes pages into one complete file and counts the numbers it rounded', async () => {
    const file = path.join(dir, 'part.parquet');
    const thread = new ParquetThread(file, columns);
    try {
      for (let page = 0; page < 30; page++) await thread.add(Array.from({ length: 1000 }, (_, i) => record(page * 1000 + i)));
      expect(await thread.finish()).toEqual({ roundedNumbers: 1, unconverted: 0 });
    } finally {
      await thread.close();
    }
    const bytes = await readFile(file);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).toBe('PAR1');
  });

  it('fails the part when the thread cannot write, rather than waiting for it', async () => {
    const thread = new ParquetThread(path.join(dir, 'no-such-folder', 'part.parquet'), columns);
    try {
      await expect(
        (async () => {
          await thread.add([record(1)]);
          return thread.finish();
        })(),
      ).rejects.toThrow();
    } finally {
      await thread.close();
    }
  });
});
