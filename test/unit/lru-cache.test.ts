import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/domain/lru-cache.js';

describe('LruCache', () => {
  it('drops the least recently used entry to make room, and says which', () => {
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({ maxEntries: 2, onEvict: (key) => evicted.push(key) });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
  });

  it('replaces a key in place without evicting another', () => {
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({ maxEntries: 2, onEvict: (key) => evicted.push(key) });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    expect(evicted).toEqual([]);
    expect(cache.get('a')).toBe(10);
  });

  it('misses once an entry is ttlMs old, counted from when it was set', () => {
    let now = 1_000;
    const cache = new LruCache<string, string | null>({ maxEntries: 10, ttlMs: 2000, now: () => now });
    cache.set('known', 'x');
    cache.set('unknown', null);
    now += 1999;
    expect(cache.get('known')).toBe('x');
    expect(cache.get('unknown')).toBeNull();
    now += 1;
    expect(cache.get('known')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('never hits with a ttl of 0', () => {
    const cache = new LruCache<string, number>({ maxEntries: 10, ttlMs: 0, now: () => 5 });
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });
});
