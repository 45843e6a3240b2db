import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HashThread } from '../../src/ingest/hash-thread.js';
import { CountingHasher } from '../../src/ingest/file-upload.service.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('hashing on the hash thread', () => {
  let thread: HashThread;
  afterEach(async () => {
    await thread.close();
  });

  it('gives the SHA-256 of the bytes, whatever their chunking, for streams hashed side by side', async () => {
    thread = new HashThread();
    const a = randomBytes(5 * 1024 * 1024 + 17);
    const b = randomBytes(300_001);
    const ha = thread.sha256();
    const hb = thread.sha256();
    const empty = thread.sha256();
    // Uneven chunks, interleaved between the two streams, across several 1 MiB batches.
    let ia = 0;
    let ib = 0;
    for (let step = 1; ia < a.length || ib < b.length; step++) {
      const na = Math.min(a.length - ia, 65_536 + step * 13);
      await ha.update(a.subarray(ia, ia + na));
      ia += na;
      const nb = Math.min(b.length - ib, 7_001);
      await hb.update(b.subarray(ib, ib + nb));
      ib += nb;
    }
    expect(await ha.digest()).toBe(sha256(a));
    expect(await hb.digest()).toBe(sha256(b));
    expect(await empty.digest()).toBe(sha256(Buffer.alloc(0)));
  });

  it('hashes the bytes as they were when given, even if the caller reuses its buffer', async () => {
    thread = new HashThread();
    const hash = thread.sha256();
    const buffer = Buffer.alloc(1000, 1);
    await hash.update(buffer);
    buffer.fill(2);
    await hash.update(buffer);
    expect(await hash.digest()).toBe(sha256(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)])));
  });

  it('asks a fast producer to wait, and never holds more than a bounded amount', async () => {
    thread = new HashThread();
    const hash = thread.sha256();
    const chunk = randomBytes(1024 * 1024);
    let waits = 0;
    for (let i = 0; i < 64; i++) {
      const behind = hash.update(chunk);
      if (behind) {
        waits++;
        await behind;
      }
    }
    expect(waits).toBeGreaterThan(0);
    expect(await hash.digest()).toBe(createHash('sha256').update(Buffer.concat(Array(64).fill(chunk))).digest('hex'));
  });

  it('fails a waiting digest when the thread is closed, and works again afterwards', async () => {
    thread = new HashThread();
    const hash = thread.sha256();
    await hash.update(randomBytes(2 * 1024 * 1024));
    const failed = expect(hash.digest()).rejects.toThrow(/closed/);
    await thread.close();
    await failed;
    const again = thread.sha256();
    await again.update(Buffer.from('abc'));
    expect(await again.digest()).toBe(sha256(Buffer.from('abc')));
  });

  it('refuses to give a digest for a stream whose bytes went partly to a thread that stopped', async () => {
    thread = new HashThread();
    const hash = thread.sha256();
    await hash.update(randomBytes(2 * 1024 * 1024));
    await thread.close();
    // The next bytes start a new thread, which never saw the first 2 MiB.
    await hash.update(randomBytes(2 * 1024 * 1024));
    await expect(hash.digest()).rejects.toThrow(/stopped/);
    // A stream that had sent nothing before the stop is whole on the new thread.
    const whole = thread.sha256();
    await whole.update(Buffer.from('abc'));
    expect(await whole.digest()).toBe(sha256(Buffer.from('abc')));
  });

  it('counts and hashes a stream passing through CountingHasher, and refuses bytes past the limit', async () => {
    thread = new HashThread();
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const received: Buffer[] = [];
    const counter = new CountingHasher(data.length, thread.sha256());
    await pipeline(
      Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
      counter,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received.push(chunk);
          callback();
        },
      }),
    );
    expect(counter.bytes).toBe(data.length);
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(await counter.digest()).toBe(sha256(data));

    const small = new CountingHasher(10, thread.sha256());
    await expect(pipeline(Readable.from([Buffer.alloc(11)]), small, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toMatchObject({
      code: 'payload_too_large',
      status: 413,
    });
    small.abandon();
  });
});
