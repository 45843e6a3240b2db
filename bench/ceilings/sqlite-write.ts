// Ceiling for writes in embedded mode: SqliteRecordStore.putRecords into a fresh SQLite
// database on the same disk, with nothing else in the process (no HTTP server, no parsing,
// no jobs). Only the putRecords calls are timed: each batch's records are built before its
// call, so the figure is the engine's own rate on exactly those batches. The rate with the
// building counted (wall time) is reported beside it: in file mode that is mostly the
// bench's synthetic row generator, which costs about as much as the inserts.
//
//   file mode: rows 1..N of a generated file, as the records Intake stores for them, in
//              batches of the record store's writeBatchSize (what a job fills before it
//              writes).
//   push mode: batches of `perRequest` new records (one push request's worth: one
//              putRecords call per request, as the push route makes), for `durationMs`.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { StoredRecord } from '../../src/domain/model.js';
import { ceilingInput, reportResult } from '../lib/children.js';
import { customerJson, type BenchFormat } from '../lib/customers.js';
import { fileRecordMaker, pushedRecord } from '../lib/file-records.js';
import { openSqliteEngine } from '../lib/sqlite-engine.js';

type Input =
  | { mode: 'file'; file: string; table: string; format: BenchFormat; rows: number }
  | { mode: 'push'; file: string; table: string; perRequest: number; durationMs: number };

const input = ceilingInput<Input>();
const engine = openSqliteEngine(input.file);
await engine.records.ensureTable(input.table);

let putMs = 0;
async function put(records: StoredRecord[]): Promise<void> {
  const started = performance.now();
  await engine.records.putRecords(input.table, records);
  putMs += performance.now() - started;
}

const wallStarted = performance.now();
const wallSeconds = () => (performance.now() - wallStarted) / 1000;

if (input.mode === 'file') {
  const batchSize = engine.records.writeBatchSize;
  const record = fileRecordMaker(input.table, input.format);
  for (let first = 1; first <= input.rows; first += batchSize) {
    const batch: StoredRecord[] = [];
    for (let row = first; row < first + batchSize && row <= input.rows; row++) batch.push(record(row));
    await put(batch);
  }
  const seconds = putMs / 1000;
  reportResult({ rows: input.rows, batchSize, seconds, rowsPerSecond: input.rows / seconds, wallRowsPerSecond: input.rows / wallSeconds() });
} else {
  const data = Array.from({ length: input.perRequest }, (_, i) => customerJson(i + 1, 'ndjson'));
  const request = (): StoredRecord[] => {
    const requestId = randomUUID();
    const ingestedAt = new Date().toISOString();
    return data.map((d, index) => pushedRecord(d, requestId, index, ingestedAt));
  };
  // A short warm-up (JIT, statement preparation), as autocannon's first second is for Intake.
  for (let i = 0; i < 20; i++) await put(request());
  putMs = 0;
  let records = 0;
  const started = performance.now();
  const end = started + input.durationMs;
  while (performance.now() < end) {
    const batch = request();
    await put(batch);
    records += batch.length;
  }
  const seconds = putMs / 1000;
  const wall = (performance.now() - started) / 1000;
  reportResult({ records, seconds, recordsPerSecond: records / seconds, wallRecordsPerSecond: records / wall });
}
engine.close();
