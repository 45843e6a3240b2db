import { describe, expect, it } from 'vitest';
import { WriteWindow } from '../../src/ingest/write-window.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteWindow', () => {
  it('keeps at most `limit` writes in flight and starts the next as one finishes', async () => {
    const window = new WriteWindow(2, 0);
    const writes = [deferred(), deferred(), deferred()];
    let started = 0;
    const add = (i: number) => window.add(() => (started++, writes[i]!.promise), (i + 1) * 25, 25);
    await add(0);
    await add(1);
    const third = add(2);
    await tick();
    expect(started).toBe(2);
    writes[1]!.resolve();
    await third;
    expect(started).toBe(3);
    writes[0]!.resolve();
    writes[2]!.resolve();
    await window.drain();
  });

  it('promises only the rows through which every earlier write has finished', async () => {
    const window = new WriteWindow(3, 100);
    const writes = [deferred(), deferred(), deferred()];
    for (let i = 0; i < 3; i++) await window.add(() => writes[i]!.promise, 100 + (i + 1) * 25, 25);
    writes[2]!.resolve();
    writes[1]!.resolve();
    await tick();
    // Rows 126-175 are stored, rows 101-125 are not yet: nothing past 100 can be promised.
    expect(window.storedThrough).toBe(100);
    expect(window.recordsStored).toBe(50);
    writes[0]!.resolve();
    await window.drain();
    expect(window.storedThrough).toBe(175);
    expect(window.recordsStored).toBe(75);
  });

  it('surfaces a failed write at the next add or at drain, after the others settle', async () => {
    const window = new WriteWindow(2, 0);
    const first = deferred();
    const second = deferred();
    await window.add(() => first.promise, 25, 25);
    await window.add(() => second.promise, 50, 25);
    first.reject(new Error('storage down'));
    await tick();
    await expect(window.add(() => Promise.resolve(), 75, 25)).rejects.toThrow('storage down');
    let drained = false;
    const drain = window.drain().finally(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    second.resolve();
    await expect(drain).rejects.toThrow('storage down');
    expect(window.storedThrough).toBe(0);
    // The second write did land: its records count, though no checkpoint may promise them.
    expect(window.recordsStored).toBe(25);
  });
});
