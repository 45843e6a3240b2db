import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { decimalText, deterministicId, fileRowId, fileRowIdPrefix, newRecordId } from '../../src/domain/ids.js';

/** The definition ids are made by: stored records' ids must never change with the code that makes them. */
function referenceId(...parts: (string | number)[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  let bits = '';
  for (const byte of digest) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < 26; i++) out += '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[parseInt(bits.slice(i * 5, i * 5 + 5), 2)];
  return out;
}

const CROCKFORD_26 = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('deterministicId', () => {
  it('gives the same id for the same parts, every time', () => {
    const a = deterministicId('push', 'key-1', 0);
    expect(a).toMatch(CROCKFORD_26);
    expect(deterministicId('push', 'key-1', 0)).toBe(a);
  });

  it('gives different ids for different parts or a different order', () => {
    const ids = new Set([
      deterministicId('push', 'key-1', 0),
      deterministicId('push', 'key-1', 1),
      deterministicId('push', 'key-2', 0),
      deterministicId('file', 'key-1', 0),
      deterministicId('key-1', 'push', 0),
    ]);
    expect(ids.size).toBe(5);
  });

  it('does not confuse parts that concatenate to the same text', () => {
    expect(deterministicId('ab', 'c')).not.toBe(deterministicId('a', 'bc'));
    expect(deterministicId('a', 1)).toBe(deterministicId('a', '1'));
  });

  it('spreads over many inputs without collisions', () => {
    const ids = new Set(Array.from({ length: 10_000 }, (_, i) => deterministicId('file', 'f1', i)));
    expect(ids.size).toBe(10_000);
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(CROCKFORD_26);
  });

  it('accepts any Unicode in its parts', () => {
    expect(deterministicId('push', '😀 ключ \u0000', 3)).toMatch(CROCKFORD_26);
  });
});

describe('deterministicId, against its definition', () => {
  it('is the base32 of the SHA-256 of the parts joined with NUL, for every kind of part', () => {
    const cases: (string | number)[][] = [
      ['row', '01JB6Q0Z7E3M8K2V4N5P6R7S8T', 1],
      ['row', '01JB6Q0Z7E3M8K2V4N5P6R7S8T', 1_000_000],
      ['push', 'key', 0],
      ['push', '', 9],
      ['a', Number.MAX_SAFE_INTEGER],
      ['a', -3, 1.5, 1e21, Number.NaN],
      ['push', '😀 ключ \u0000 é', 3],
      ['push', 'lone \ud800 surrogate', 4],
      ['job', 'bucket', 'x'.repeat(5000), 'etag'],
      ['file', 'b', 'ключ/'.repeat(400), '"etag"'],
      [],
      ['only'],
    ];
    for (const parts of cases) expect(deterministicId(...parts)).toBe(referenceId(...parts));
    // After a long part grew the buffer, short ones still hash only their own bytes.
    expect(deterministicId('row', 'f', 7)).toBe(referenceId('row', 'f', 7));
  });

  it('matches the definition over many row numbers', () => {
    for (let row = 0; row < 20_000; row += 7) expect(deterministicId('row', 'file-1', row)).toBe(referenceId('row', 'file-1', row));
  });
});

describe('decimalText', () => {
  it('writes numbers as String does', () => {
    for (const n of [0, 1, 9, 10, 99, 100, 12345, 1_000_000, Number.MAX_SAFE_INTEGER, -1, 2.5, 1e21, Number.NaN]) {
      expect(decimalText(n)).toBe(String(n));
    }
  });
});

describe('newRecordId', () => {
  it('makes unique, time-ordered ULIDs', () => {
    const ids = Array.from({ length: 1000 }, () => newRecordId());
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(CROCKFORD_26);
    expect([...ids].sort()).toEqual(ids);
  });

  it('draws fresh random parts for every millisecond, past refills of the entropy pool', () => {
    // One id per millisecond takes 16 random characters each: 600 ids use the 4 KiB pool twice over.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Later than any id made so far in this process: the factory only increments an earlier time's random part.
      const start = Date.UTC(2200, 0, 1);
      const ids = Array.from({ length: 600 }, (_, i) => {
        vi.setSystemTime(start + i);
        return newRecordId();
      });
      const randomParts = ids.map((id) => id.slice(10));
      expect(new Set(randomParts).size).toBe(600);
      // Every position of the random part takes (nearly) all 32 characters over 600 draws.
      for (let at = 0; at < 16; at++) {
        expect(new Set(randomParts.map((r) => r[at])).size).toBeGreaterThanOrEqual(28);
      }
      expect([...ids].sort()).toEqual(ids);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('fileRowId', () => {
  it('is deterministic, 26 characters, and distinct per file and row', () => {
    const a = fileRowIdPrefix('01JB6Q0Z7E3M8K2V4N5P6R7S8T');
    const b = fileRowIdPrefix('01JB6Q0Z7E3M8K2V4N5P6R7S8V');
    expect(a).toHaveLength(16);
    expect(fileRowIdPrefix('01JB6Q0Z7E3M8K2V4N5P6R7S8T')).toBe(a);
    expect(a).not.toBe(b);
    const ids = new Set<string>();
    for (const row of [0, 1, 2, 31, 32, 1023, 1024, 999_999, 1_000_000, 2 ** 40]) {
      const id = fileRowId(a, row);
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      ids.add(id);
      ids.add(fileRowId(b, row));
    }
    expect(ids.size).toBe(20);
  });

  it('orders a file’s rows as their numbers', () => {
    const prefix = fileRowIdPrefix('file-1');
    const rows = [1, 2, 9, 10, 31, 32, 33, 1000, 65_536, 1_000_000, 123_456_789];
    const ids = rows.map((row) => fileRowId(prefix, row));
    expect([...ids].sort()).toEqual(ids);
  });

  it('refuses row numbers it cannot write in 10 digits', () => {
    expect(() => fileRowId('x'.repeat(16), -1)).toThrow(RangeError);
    expect(() => fileRowId('x'.repeat(16), 32 ** 10)).toThrow(RangeError);
    expect(() => fileRowId('x'.repeat(16), 1.5)).toThrow(RangeError);
  });
});
