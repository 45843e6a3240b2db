import { describe, expect, it, vi } from 'vitest';
import { deterministicId, newRecordId } from '../../src/domain/ids.js';

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
