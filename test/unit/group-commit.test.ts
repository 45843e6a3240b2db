import { describe, expect, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { GroupCommit } from '../../src/storage/dynamodb/group-commit.js';

interface Item {
  id: string;
  bad?: boolean;
}

/** A store whose writes finish only when the test says so. */
function controlledStore() {
  const calls: { table: string; items: Item[]; finish: (error?: unknown) => void }[] = [];
  const write = (table: string, items: Item[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ table, items: [...items], finish: (error) => (error ? reject(error) : resolve()) });
    });
  return { calls, write };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const ids = (items: Item[]) => items.map((i) => i.id);

describe('GroupCommit', () => {
  it('writes at once when idle, and gathers what arrives meanwhile into one batch', async () => {
    const store = controlledStore();
    const group = new GroupCommit<Item>(store.write, (i) => i.id, 1);
    const settled: string[] = [];
    const first = group.add('t', [{ id: 'a' }]).then(() => settled.push('a'));
    const rest = ['b', 'c', 'd'].map((id) => group.add('t', [{ id }]).then(() => settled.push(id)));
    await tick();
    expect(store.calls.map((c) => ids(c.items))).toEqual([['a']]);
    store.calls[0]!.finish();
    await first;
    await tick();
    // Nothing is acknowledged before its own write finished.
    expect(settled).toEqual(['a']);
    expect(store.calls.map((c) => ids(c.items))).toEqual([['a'], ['b', 'c', 'd']]);
    store.calls[1]!.finish();
    await Promise.all(rest);
    expect(settled.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('never puts more than 25 items or one id twice in a batch, and keeps tables apart', async () => {
    const store = controlledStore();
    const group = new GroupCommit<Item>(store.write, (i) => i.id, 1);
    const all = [group.add('t', [{ id: 'busy' }])];
    all.push(group.add('t', Array.from({ length: 20 }, (_, i) => ({ id: `x${i}` }))));
    all.push(group.add('t', Array.from({ length: 10 }, (_, i) => ({ id: `y${i}` }))));
    all.push(group.add('t', [{ id: 'y1' }]));
    all.push(group.add('u', [{ id: 'other' }]));
    await tick();
    store.calls[0]!.finish();
    for (let i = 0; i < 6; i++) {
      await tick();
      for (const call of store.calls) call.finish();
    }
    await Promise.all(all);
    const batches = store.calls.map((c) => `${c.table}:${c.items.length}`);
    expect(batches).toEqual(['t:1', 'u:1', 't:20', 't:10', 't:1']);
    for (const call of store.calls) expect(new Set(ids(call.items)).size).toBe(call.items.length);
  });

  it('writes a second batch in parallel only once it is worth a call (8 items), up to maxInFlight', async () => {
    const store = controlledStore();
    const group = new GroupCommit<Item>(store.write, (i) => i.id, 2);
    const all = [group.add('t', [{ id: 'first' }])];
    for (let i = 0; i < 7; i++) all.push(group.add('t', [{ id: `a${i}` }]));
    await tick();
    // 7 items wait for the first write rather than going out as a second small batch.
    expect(store.calls.map((c) => c.items.length)).toEqual([1]);
    all.push(group.add('t', [{ id: 'a7' }]));
    await tick();
    expect(store.calls.map((c) => c.items.length)).toEqual([1, 8]);
    // Two writes run: the next batch waits, even full, until one of them finishes.
    for (let i = 0; i < 25; i++) all.push(group.add('t', [{ id: `b${i}` }]));
    await tick();
    expect(store.calls.map((c) => c.items.length)).toEqual([1, 8]);
    store.calls[0]!.finish();
    await tick();
    expect(store.calls.map((c) => c.items.length)).toEqual([1, 8, 25]);
    for (const call of store.calls) call.finish();
    await Promise.all(all);
  });

  it('retries a refused shared batch caller by caller, so only the bad caller fails', async () => {
    const written: string[][] = [];
    let busy: (() => void) | undefined;
    const write = async (_table: string, items: Item[]) => {
      written.push(ids(items));
      if (items[0]!.id === 'first') await new Promise<void>((resolve) => (busy = resolve));
      if (items.some((i) => i.bad)) throw errors.validation('bad item');
    };
    const group = new GroupCommit<Item>(write, (i) => i.id, 1);
    const first = group.add('t', [{ id: 'first' }]);
    const good = group.add('t', [{ id: 'good' }]);
    const bad = group.add('t', [{ id: 'bad', bad: true }]);
    await tick();
    busy!();
    await first;
    await expect(good).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('bad item');
    expect(written).toEqual([['first'], ['good', 'bad'], ['good'], ['bad']]);
  });

  it('fails every caller of a batch when storage is unavailable', async () => {
    const store = controlledStore();
    const group = new GroupCommit<Item>(store.write, (i) => i.id, 1);
    const first = group.add('t', [{ id: 'a' }]);
    const second = group.add('t', [{ id: 'b' }]);
    const third = group.add('t', [{ id: 'c' }]);
    await tick();
    store.calls[0]!.finish();
    await first;
    await tick();
    store.calls[1]!.finish(errors.storageUnavailable());
    await expect(second).rejects.toMatchObject({ status: 503 });
    await expect(third).rejects.toMatchObject({ status: 503 });
    expect(store.calls).toHaveLength(2);
  });
});
