// Ceiling: the same records written straight into the same engine with BatchWriteItem,
// nothing else in the process (no HTTP server, no parsing, no jobs).
//
//   file mode: rows 1..N of a generated file, as the records Intake builds from them,
//              in batches of 25 with `concurrency` batches in flight (Intake's write
//              concurrency per job).
//   push mode: `clients` loops, each writing one request's worth of records at a time
//              (batches of 25, `concurrency` in flight per request), for `durationMs`.
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { monotonicFactory } from 'ulid';
import { deterministicId } from '../../src/domain/ids.js';
import { ceilingInput, reportResult } from '../lib/children.js';
import { customerJson, type BenchFormat } from '../lib/customers.js';
import { createRecordsTable, openEngine, putRequest, writeBatch, type EngineTarget, type PlainRecord } from '../lib/engine.js';

type Input =
  | { mode: 'file'; target: EngineTarget; table: string; format: BenchFormat; rows: number; concurrency: number }
  | { mode: 'push'; target: EngineTarget; table: string; perRequest: number; clients: number; concurrency: number; durationMs: number };

const input = ceilingInput<Input>();
const engine = await openEngine(input.target);
const { client } = engine;
await createRecordsTable(client, input.table);
const ingestedAt = new Date().toISOString();

if (input.mode === 'file') {
  const fileId = deterministicId('bench-file', input.table);
  const sourcePrefix = `{"type":"file","fileId":"${fileId}","jobId":"${deterministicId('bench-job', input.table)}","fileName":"customers.${input.format}","row":`;
  const record = (row: number): PlainRecord => ({
    id: deterministicId('row', fileId, row),
    data: customerJson(row, input.format),
    source: `${sourcePrefix}${row}}`,
    ingestedAt,
  });
  let next = 1;
  const started = performance.now();
  const worker = async () => {
    while (next <= input.rows) {
      const batch = [];
      for (let i = 0; i < 25 && next <= input.rows; i++) batch.push(putRequest(record(next++)));
      await writeBatch(engine, input.table, batch);
    }
  };
  await Promise.all(Array.from({ length: input.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  reportResult({ rows: input.rows, seconds, rowsPerSecond: input.rows / seconds });
} else {
  const nextId = monotonicFactory();
  const data = Array.from({ length: input.perRequest }, (_, i) => customerJson(i + 1, 'ndjson'));
  const request = (): PlainRecord[] =>
    data.map((d, index) => ({
      id: nextId(),
      data: d,
      source: `{"type":"api","keyId":"AAAAAAAAAAAAAAAAAAAAAAAAAA","requestId":"${randomUUID()}","index":${index}}`,
      ingestedAt,
    }));
  let written = 0;
  let stop = false;
  const writeRequest = async (records: PlainRecord[]) => {
    const batches: WriteRequest[][] = [];
    for (let i = 0; i < records.length; i += 25) batches.push(records.slice(i, i + 25).map(putRequest));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) await writeBatch(engine, input.table, batches[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(input.concurrency, batches.length) }, worker));
  };
  const loop = async () => {
    while (!stop) {
      const records = request();
      await writeRequest(records);
      if (!stop) written += records.length;
    }
  };
  // A short warm-up (JIT, sockets), as autocannon's first requests are for Intake.
  await writeRequest(request());
  // Like autocannon: what completed within the window counts, over the window's length.
  const started = performance.now();
  const timer = setTimeout(() => (stop = true), input.durationMs);
  await Promise.all(Array.from({ length: input.clients }, loop));
  clearTimeout(timer);
  const seconds = Math.min(performance.now() - started, input.durationMs) / 1000;
  reportResult({ records: written, seconds, recordsPerSecond: written / seconds, requestsPerSecond: written / input.perRequest / seconds });
}
await engine.close();
