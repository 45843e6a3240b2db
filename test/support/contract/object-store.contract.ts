// The behaviour every ObjectStore adapter must share (S3 and the filesystem), run by
// test/integration/storage-contract.test.ts against each of them.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectInfo, ObjectStore } from '../../../src/storage/ports.js';
import { byteStream, failingStream, freshName, readAll, rejectionOf, sha256, stallingStream } from './contract-helpers.js';

export interface ObjectStoreFixture {
  store: ObjectStore;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

async function listAll(store: ObjectStore, bucket: string, prefix: string): Promise<{ pages: ObjectInfo[][]; keys: string[] }> {
  const pages: ObjectInfo[][] = [];
  for await (const page of store.list(bucket, prefix)) pages.push(page);
  return { pages, keys: pages.flat().map((o) => o.key) };
}

const put = (store: ObjectStore, bucket: string, key: string, text: string, contentType?: string) =>
  store.putStream(bucket, key, Readable.from([Buffer.from(text)]), { contentType });

export function describeObjectStoreContract(name: string, factory: () => Promise<ObjectStoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fixture: ObjectStoreFixture;
    let store: ObjectStore;
    let bucket: string;

    beforeAll(async () => {
      fixture = await factory();
      store = fixture.store;
      bucket = freshName('contract');
      await store.ensureBucket(bucket);
    });
    afterAll(async () => fixture?.close());

    it('ensureBucket is idempotent and keeps what the bucket holds', async () => {
      await put(store, bucket, 'keep/me.txt', 'kept');
      await store.ensureBucket(bucket);
      await Promise.all([store.ensureBucket(bucket), store.ensureBucket(bucket)]);
      expect((await store.head(bucket, 'keep/me.txt'))?.size).toBe(4);
    });

    it('putStream stores the whole stream; head describes it; getStream reads it, also from an offset', async () => {
      const { stream, digest } = byteStream(300 * 1024 + 7);
      const key = 'incoming/f1/data.csv';
      await store.putStream(bucket, key, stream, { contentType: 'text/csv', metadata: { 'original-name': 'data.csv' } });

      const info = await store.head(bucket, key);
      expect(info).not.toBeNull();
      expect(info!.key).toBe(key);
      expect(info!.size).toBe(300 * 1024 + 7);
      expect(info!.lastModified).toBeInstanceOf(Date);
      expect(typeof info!.etag).toBe('string');
      expect(info!.contentType).toBe('text/csv');
      expect(info!.metadata).toMatchObject({ 'original-name': 'data.csv' });

      const whole = await readAll(await store.getStream(bucket, key));
      expect(sha256(whole)).toBe(digest());
      const tail = await readAll(await store.getStream(bucket, key, { start: 100_000 }));
      expect(tail.equals(whole.subarray(100_000))).toBe(true);
      const lastByte = await readAll(await store.getStream(bucket, key, { start: whole.length - 1 }));
      expect(lastByte.equals(whole.subarray(-1))).toBe(true);
      expect((await readAll(await store.getStream(bucket, key, { start: 0 }))).equals(whole)).toBe(true);
    });

    it('stores an object larger than one multipart part intact', async () => {
      const { stream, digest } = byteStream(9 * MiB, 7);
      await store.putStream(bucket, 'big/nine-mib.bin', stream);
      expect((await store.head(bucket, 'big/nine-mib.bin'))?.size).toBe(9 * MiB);
      expect(sha256(await readAll(await store.getStream(bucket, 'big/nine-mib.bin')))).toBe(digest());
      await store.delete(bucket, 'big/nine-mib.bin');
    });

    it('overwrites an existing key with the new content', async () => {
      await put(store, bucket, 'over/x.txt', 'first version');
      await put(store, bucket, 'over/x.txt', 'second');
      expect((await readAll(await store.getStream(bucket, 'over/x.txt'))).toString()).toBe('second');
    });

    it('leaves no object when the stream fails midway (small and multipart)', async () => {
      await expect(store.putStream(bucket, 'failed/small.csv', failingStream(200 * 1024))).rejects.toThrow();
      await expect(store.putStream(bucket, 'failed/large.csv', failingStream(9 * MiB))).rejects.toThrow();
      expect(await store.head(bucket, 'failed/small.csv')).toBeNull();
      expect(await store.head(bucket, 'failed/large.csv')).toBeNull();
      expect((await listAll(store, bucket, 'failed/')).keys).toEqual([]);
    });

    it('leaves no object when the upload is aborted through its signal', async () => {
      const stalled = stallingStream();
      const controller = new AbortController();
      const upload = store.putStream(bucket, 'aborted/stalled.csv', stalled, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('client went away')), 100);
      const error = await rejectionOf(upload);
      expect(error).toBeTruthy();
      stalled.destroy();

      const already = new AbortController();
      already.abort(new Error('aborted before start'));
      await expect(
        store.putStream(bucket, 'aborted/early.csv', Readable.from([Buffer.from('x')]), { signal: already.signal }),
      ).rejects.toBeTruthy();

      expect(await store.head(bucket, 'aborted/stalled.csv')).toBeNull();
      expect(await store.head(bucket, 'aborted/early.csv')).toBeNull();
      expect((await listAll(store, bucket, 'aborted/')).keys).toEqual([]);
    });

    it('lists objects under a prefix only, in key order', async () => {
      for (const key of ['list/b.txt', 'list/a.txt', 'list/c/d.txt', 'list-other/x.txt', 'elsewhere/list/y.txt']) {
        await put(store, bucket, key, key);
      }
      const { keys, pages } = await listAll(store, bucket, 'list/');
      expect(keys).toEqual(['list/a.txt', 'list/b.txt', 'list/c/d.txt']);
      const sizes = Object.fromEntries(pages.flat().map((o) => [o.key, o.size]));
      expect(sizes).toEqual({ 'list/a.txt': 10, 'list/b.txt': 10, 'list/c/d.txt': 12 });
      expect((await listAll(store, bucket, 'nothing-here/')).keys).toEqual([]);
    });

    it('pages a long listing, every key once and in order', async () => {
      // One more than S3's 1,000-key page, so the listing must follow a continuation.
      const keys = Array.from({ length: 1001 }, (_, i) => `many/${String(i).padStart(5, '0')}.txt`);
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(keys.slice(i, i + 100).map((key) => put(store, bucket, key, 'x')));
      }
      const listed = await listAll(store, bucket, 'many/');
      expect(listed.pages.length).toBeGreaterThanOrEqual(2);
      expect(listed.keys).toEqual(keys);
    });

    it('moves an object, and a retried move is a no-op', async () => {
      await put(store, bucket, 'incoming/m1/file.csv', 'a,b\n1,2\n', 'text/csv');
      await store.move(bucket, 'incoming/m1/file.csv', 'processed/m1/file.csv');
      expect(await store.head(bucket, 'incoming/m1/file.csv')).toBeNull();
      const moved = await store.head(bucket, 'processed/m1/file.csv');
      expect(moved?.size).toBe(8);
      expect(moved?.contentType).toBe('text/csv');
      expect((await readAll(await store.getStream(bucket, 'processed/m1/file.csv'))).toString()).toBe('a,b\n1,2\n');
      expect((await listAll(store, bucket, 'incoming/m1/')).keys).toEqual([]);

      await store.move(bucket, 'incoming/m1/file.csv', 'processed/m1/file.csv');
      expect((await store.head(bucket, 'processed/m1/file.csv'))?.size).toBe(8);
    });

    it('refuses to move an object that exists nowhere', async () => {
      await expect(store.move(bucket, 'incoming/ghost/x.csv', 'processed/ghost/x.csv')).rejects.toBeTruthy();
      expect(await store.head(bucket, 'processed/ghost/x.csv')).toBeNull();
    });

    it('deletes an object; deleting again is harmless', async () => {
      await put(store, bucket, 'del/x.txt', 'bye');
      await store.delete(bucket, 'del/x.txt');
      expect(await store.head(bucket, 'del/x.txt')).toBeNull();
      await expect(store.getStream(bucket, 'del/x.txt')).rejects.toBeTruthy();
      await store.delete(bucket, 'del/x.txt');
      expect((await listAll(store, bucket, 'del/')).keys).toEqual([]);
    });

    it('empties a bucket page by page, every prefix, then deletes it; both harmless on a missing bucket', async () => {
      const doomed = freshName('contract-doomed');
      await store.ensureBucket(doomed);
      const keys = Array.from({ length: 1003 }, (_, i) => `${['incoming', 'processed', 'exports'][i % 3]}/f${String(i).padStart(4, '0')}/a b.csv`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => put(store, doomed, key, 'x')));
      const removed: number[] = [];
      for (let n = await store.emptyBucket(doomed); n > 0; n = await store.emptyBucket(doomed)) removed.push(n);
      expect(removed.length).toBeGreaterThanOrEqual(2);
      expect(removed.reduce((a, b) => a + b, 0)).toBe(keys.length);
      expect((await listAll(store, doomed, '')).keys).toEqual([]);
      await store.deleteBucket(doomed);
      expect(await store.emptyBucket(doomed)).toBe(0);
      await store.deleteBucket(doomed);
      // A bucket of the same name can be made again, empty.
      await store.ensureBucket(doomed);
      expect((await listAll(store, doomed, '')).keys).toEqual([]);
      await store.deleteBucket(doomed);
      expect((await listAll(store, bucket, 'keep/')).keys).toEqual(['keep/me.txt']);
    }, 60_000);

    it('answers head with null for a missing key', async () => {
      expect(await store.head(bucket, 'no/such/key.csv')).toBeNull();
      expect(await store.head(bucket, 'incoming')).toBeNull();
    });

    it.each(['../escape.txt', 'incoming/../../escape.txt', '/absolute.txt', 'incoming/a\u0000b', 'incoming/./x', ''])(
      'refuses the unsafe key %j, writing nothing',
      async (key) => {
        await expect(put(store, bucket, key, 'evil')).rejects.toBeTruthy();
        await expect(store.head(bucket, key)).rejects.toBeTruthy();
        expect((await listAll(store, bucket, 'escape')).keys).toEqual([]);
      },
    );

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
