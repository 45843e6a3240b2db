// Ceiling: the file's parser library alone over the same file, from the same disk, with
// nothing else in the process. CSV: csv-parse. NDJSON: JSON.parse per line. XML:
// fast-xml-parser over the whole document (it has no streaming mode; at the sizes used
// here the document fits in memory, which only makes the ceiling higher).
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Parser } from 'csv-parse';
import { XMLParser } from 'fast-xml-parser';
import { ceilingInput, reportResult } from '../lib/children.js';
import type { BenchFormat } from '../lib/customers.js';

const input = ceilingInput<{ file: string; format: BenchFormat }>();

async function csvRows(file: string): Promise<number> {
  const parser = new Parser({ delimiter: ',' });
  let rows = 0;
  const done = new Promise<void>((resolve, reject) => {
    parser.on('readable', () => {
      while (parser.read() !== null) rows++;
    });
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  createReadStream(file, { highWaterMark: 1 << 16 }).pipe(parser);
  await done;
  return rows - 1; // the header
}

async function ndjsonRows(file: string): Promise<number> {
  let rows = 0;
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    const buf: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      if (nl > start) {
        JSON.parse(buf.toString('utf8', start, nl));
        rows++;
      }
      start = nl + 1;
    }
    carry = buf.subarray(start);
  }
  return rows;
}

async function xmlRows(file: string): Promise<number> {
  const doc = new XMLParser({ parseTagValue: false, jPath: false }).parse(await fs.readFile(file, 'utf8')) as {
    customers: { customer: unknown[] };
  };
  return doc.customers.customer.length;
}

const started = performance.now();
const rows = input.format === 'csv' ? await csvRows(input.file) : input.format === 'ndjson' ? await ndjsonRows(input.file) : await xmlRows(input.file);
const seconds = (performance.now() - started) / 1000;
reportResult({ rows, seconds, rowsPerSecond: rows / seconds });
