// The gzip bomb guard bounds the inflation ratio as well as the total: a bomb is refused
// within its first compressed megabytes even under a total limit of tens of GiB, while a
// file that compresses as well as real data does (very repetitive rows included) passes.
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_INFLATION_RATIO } from '../../../src/ingest/parsers/byte-source.js';
import { countingStream, MiB, readAll } from './parser-test-kit.js';

const GiB = 1024 * MiB;

async function gzipOf(produce: (write: (chunk: Buffer) => void) => void, level = 6): Promise<Buffer> {
  const parts: Buffer[] = [];
  const gzip = createGzip({ level });
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  produce((chunk) => gzip.write(chunk));
  gzip.end();
  await done;
  return Buffer.concat(parts);
}

function streamOfChunks(bytes: Buffer) {
  return countingStream(function* () {
    for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
  });
}

describe('inflation ratio', () => {
  it('refuses a bomb (about 1000:1) early, under a 50 GiB total limit', async () => {
    const line = Buffer.alloc(MiB, `${'0'.repeat(1021)},0\n`);
    const bomb = await gzipOf((write) => {
      for (let i = 0; i < 200; i++) write(line);
    }, 9);
    const { stream, bytesRead } = streamOfChunks(bomb);
    const out = await readAll(stream, { fileName: 'bomb.csv.gz', maxDecompressedBytes: 50 * GiB })
      .then((o) => o.error)
      .catch((err: unknown) => err);
    expect(out).toMatchObject({ code: 'decompressed_too_large', message: expect.stringContaining(`more than ${DEFAULT_MAX_INFLATION_RATIO} times`) });
    expect(bytesRead()).toBeLessThan(bomb.length / 4);
    expect(stream.destroyed).toBe(true);
  }, 60_000);

  // 600,000 rows of one customer repeated (about 22 MB): as repetitive as real data gets.
  const ROWS = 600_000;
  const repetitive = () =>
    gzipOf((write) => {
      write(Buffer.from('id,email,status,since\n'));
      for (let start = 0; start < ROWS; start += 10_000) {
        let text = '';
        for (let i = start; i < start + 10_000; i++) text += `${i},ann@example.com,active,2024-01-01\n`;
        write(Buffer.from(text));
      }
    });

  it('reads a very repetitive but honest file whole', async () => {
    const { stream } = streamOfChunks(await repetitive());
    const out = await readAll(stream, { fileName: 'rows.csv.gz', maxDecompressedBytes: 50 * GiB });
    expect(out.error).toBeUndefined();
    expect(out.rows).toHaveLength(ROWS);
  }, 60_000);

  it('takes its ratio from the options', async () => {
    const { stream } = streamOfChunks(await repetitive());
    const out = await readAll(stream, { fileName: 'rows.csv.gz', maxDecompressedBytes: 50 * GiB, maxInflationRatio: 2 });
    expect(out.error).toMatchObject({ code: 'decompressed_too_large' });
  }, 60_000);
});
