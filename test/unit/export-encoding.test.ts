// The export's byte-level helpers: rows encoded straight into UTF-8 chunks (streamed
// export), and Parquet text values encoded into shared slabs. Both must give exactly the
// bytes Buffer.from gives, whatever the characters and wherever a chunk or slab ends.
import { describe, expect, it } from 'vitest';
import { ChunkWriter } from '../../src/export/record-export.js';
import { encodeTexts, mostlyDistinct } from '../../src/export/parquet-text.js';

const CHUNK = 256 * 1024;
// ASCII, Latin-1, 3-byte, a 4-byte (astral) pair and a lone surrogate (written as U+FFFD).
const ROWS = ['{"a":1}\n', 'Chloé, Côte d’Ivoire\n', '東京 😀\n', 'lone \ud800 half\n'];

function writeAll(rows: string[]): Buffer[] {
  const out = new ChunkWriter();
  const chunks: Buffer[] = [];
  for (const row of rows) {
    const full = out.write(row);
    if (full) chunks.push(full);
  }
  const last = out.take();
  if (last) chunks.push(last);
  return chunks;
}

describe('ChunkWriter', () => {
  it('gives the same bytes as encoding the whole text, in chunks of at most 256 KiB that never split a row', () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => ROWS[i % ROWS.length]!.replace('\n', ` ${i}\n`));
    const chunks = writeAll(rows);
    expect(Buffer.concat(chunks).equals(Buffer.from(rows.join('')))).toBe(true);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(CHUNK);
      expect(chunk.at(-1)).toBe(0x0a);
    }
  });

  it('hands on a row bigger than a chunk whole, in a chunk of its own', () => {
    const big = `${'é'.repeat(200_000)}\n`;
    const chunks = writeAll(['a\n', big, 'b\n']);
    expect(chunks.map((chunk) => chunk.toString())).toEqual(['a\n', big, 'b\n']);
  });

  it('has nothing to take when nothing was written', () => {
    expect(new ChunkWriter().take()).toBeUndefined();
  });
});

describe('Parquet text encoding', () => {
  it('replaces strings by their UTF-8 bytes and keeps nulls, across slabs and for a value bigger than one', () => {
    const values: unknown[] = [...Array.from({ length: 30_000 }, (_, i) => `${ROWS[i % ROWS.length]!} ${i}`), null, 'x'.repeat(2_000_000)];
    const expected = values.map((value) => (typeof value === 'string' ? Buffer.from(value) : value));
    const encoded = encodeTexts([...values]);
    expect(encoded).toHaveLength(values.length);
    encoded.forEach((value, i) => {
      if (expected[i] === null) expect(value).toBeNull();
      else expect(Buffer.from(value as Uint8Array).equals(expected[i] as Buffer)).toBe(true);
    });
  });

  it('calls a column mostly distinct only when the writer would not give it a dictionary', () => {
    expect(mostlyDistinct(Array.from({ length: 5000 }, (_, i) => `id-${i}`))).toBe(true);
    expect(mostlyDistinct(Array.from({ length: 5000 }, (_, i) => ['France', 'Peru', 'Chad'][i % 3]!))).toBe(false);
    expect(mostlyDistinct([null, null])).toBe(false);
  });
});
