// Ceiling for writes in aws mode: the records Intake stores for rows 1..N of a generated
// file, written straight into the same DynamoDB Local with BatchWriteItem (25 puts per
// call, DynamoDB's limit) and `concurrency` calls in flight (Intake's write concurrency
// per job), nothing else in the process. Records are built as the writes go, as a job
// builds its own: with calls in flight, a build cannot be taken out of the timing.
import { performance } from 'node:perf_hooks';
import { ceilingInput, reportResult } from '../lib/children.js';
import type { BenchFormat } from '../lib/customers.js';
import { createRecordsTable, openDynamo, putRequest, writeBatch, type DynamoTarget } from '../lib/dynamo-engine.js';
import { fileRecordMaker } from '../lib/file-records.js';

const input = ceilingInput<{ target: DynamoTarget; table: string; format: BenchFormat; rows: number; concurrency: number }>();
const client = openDynamo(input.target);
await createRecordsTable(client, input.table);
const record = fileRecordMaker(input.table, input.format);

let next = 1;
const started = performance.now();
const worker = async () => {
  while (next <= input.rows) {
    const batch = [];
    for (let i = 0; i < 25 && next <= input.rows; i++) batch.push(putRequest(record(next++)));
    await writeBatch(client, input.table, batch);
  }
};
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
reportResult({ rows: input.rows, seconds, rowsPerSecond: input.rows / seconds });
client.destroy();
