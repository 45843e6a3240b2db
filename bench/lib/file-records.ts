// The records Intake stores for a generated file, made by Intake's own steps (a new job for
// an uploaded object, then "row to record"), so that a ceiling writes the same ids, data
// and source text as the server: when the id scheme or the source changes, the ceilings
// follow without anyone remembering to copy the change here.
import { newRecordId } from '../../src/domain/ids.js';
import type { StoredRecord } from '../../src/domain/model.js';
import { newJob } from '../../src/ingest/jobs.js';
import { fileRecordOrigin, rowToRecord } from '../../src/ingest/pipeline/row-to-record.js';
import { incomingKey } from '../../src/storage/object-keys.js';
import { customerJson, type BenchFormat } from './customers.js';

/** Row `row` (1-based) of `customers.<format>` as the record Intake stores, for a file uploaded to `table`'s project. */
export function fileRecordMaker(table: string, format: BenchFormat): (row: number) => StoredRecord {
  const fileName = `customers.${format}`;
  const project = { id: 'bench', name: 'bench', createdAt: new Date().toISOString(), tableName: table, bucketName: `${table}-objects` };
  // An upload's key holds a fresh file id, as the upload route gives it.
  const job = newJob(project, { key: incomingKey(newRecordId(), fileName), etag: 'bench', size: 0, fileName });
  const origin = fileRecordOrigin(job, new Date().toISOString());
  return (row) => {
    const outcome = rowToRecord({ row, ok: true, data: customerJson(row, format) }, origin);
    if (outcome.kind !== 'ok') throw new Error(`row ${row} was not a record: ${JSON.stringify(outcome)}`);
    return outcome.value.record;
  };
}

/** One pushed record as the push route stores it (no Idempotency-Key: a new ULID per record). */
export function pushedRecord(data: string, requestId: string, index: number, ingestedAt: string): StoredRecord {
  return {
    id: newRecordId(),
    data,
    source: JSON.stringify({ type: 'api', keyId: 'AAAAAAAAAAAAAAAAAAAAAAAAAA', requestId, index }),
    ingestedAt,
  };
}
