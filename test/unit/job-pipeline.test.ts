import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JobItem, JobOutcome, JobProgress, ProjectItem, StoredRecord } from '../../src/domain/model.js';
import { MAX_ITEM_BYTES } from '../../src/domain/record-builder.js';
import { JobRunner } from '../../src/ingest/job-runner.js';
import { newJob } from '../../src/ingest/jobs.js';
import { addToBatch, emptyBatch, isBatchFull } from '../../src/ingest/pipeline/batch.js';
import { jobStatusOf } from '../../src/ingest/pipeline/finish-job.js';
import { applyRecordSteps, type RecordStep } from '../../src/ingest/pipeline/record-steps.js';
import { fileRecordOrigin, rowToRecord } from '../../src/ingest/pipeline/row-to-record.js';
import { newRowTally, progressOf } from '../../src/ingest/pipeline/row-tally.js';
import { passOn, rejectRow } from '../../src/ingest/pipeline/step-outcome.js';
import type { ControlStore, ObjectStore, RecordStore } from '../../src/storage/ports.js';

const project: ProjectItem = { id: 'p', name: 'p', createdAt: '2026-01-01T00:00:00.000Z', tableName: 't', bucketName: 'b' };

function jobFor(fileName: string, checkpointRow = 0): JobItem {
  const job = newJob(project, { key: `incoming/${fileName}`, etag: 'e1', size: 1, fileName });
  return { ...job, status: 'running', attempts: 1, checkpointRow };
}

/**
 * In-memory stand-ins for the three stores, holding only what a job touches: enough to
 * drive a whole pass and look at what it wrote, checkpointed and finished with.
 */
function fakeStores(content: string) {
  const written: StoredRecord[] = [];
  const checkpoints: JobProgress[] = [];
  const uploads = new Map<string, string>();
  let finished: JobOutcome | undefined;
  const objects = {
    getStream: async () => Readable.from([Buffer.from(content)]),
    head: async () => ({ key: 'k', size: content.length, lastModified: new Date() }),
    move: async () => undefined,
    putStream: async (_bucket: string, key: string, body: Readable) => {
      const parts: Buffer[] = [];
      for await (const part of body) parts.push(part as Buffer);
      uploads.set(key, Buffer.concat(parts).toString('utf8'));
    },
  } as unknown as ObjectStore;
  const control = {
    checkpointJob: async (_p: string, _j: string, _o: string, _l: number, progress?: JobProgress) => {
      if (progress) checkpoints.push(progress);
      return true;
    },
    finishJob: async (_p: string, _j: string, _o: string, outcome: JobOutcome) => {
      finished = outcome;
      return true;
    },
    releaseJob: async () => undefined,
    // The pipeline keeps refused rows and the fields it stored; these tests look at neither.
    quarantine: { putEntries: async () => undefined },
    catalog: { mergeFields: async () => [] },
  } as unknown as ControlStore;
  const records = {
    writeBatchSize: 25,
    putRecords: async (_table: string, batch: StoredRecord[]) => {
      written.push(...batch);
    },
  } as unknown as RecordStore;
  return { objects, control, records, written, checkpoints, uploads, finished: () => finished };
}

function runnerOver(stores: ReturnType<typeof fakeStores>, recordSteps: RecordStep[] = []) {
  return new JobRunner({
    objects: stores.objects,
    control: stores.control,
    records: stores.records,
    owner: 'test',
    leaseMs: 60_000,
    maxDecompressedBytes: 1 << 20,
    checkpointIntervalMs: 0,
    maxAttempts: 3,
    recordSteps,
  });
}

const ndjson = (n: number) => Array.from({ length: n }, (_, i) => `{"n":${i + 1}}\n`).join('');

describe('rowToRecord', () => {
  const origin = fileRecordOrigin(jobFor('a.ndjson'), '2026-01-01T00:00:00.000Z');

  it('derives the id from (file, row) alone and names the row in the source', () => {
    const first = rowToRecord({ row: 7, ok: true, data: '{"a":1}' }, origin);
    const again = rowToRecord({ row: 7, ok: true, data: '{"a":2}' }, origin);
    expect(first.kind).toBe('ok');
    if (first.kind !== 'ok' || again.kind !== 'ok') return;
    expect(first.value.record.id).toBe(again.value.record.id);
    expect(first.value.record.data).toBe('{"a":1}');
    expect(JSON.parse(first.value.record.source)).toMatchObject({ type: 'file', fileName: 'a.ndjson', row: 7 });
  });

  it('rejects a row whose item would pass the item limit, with the one record_too_large wording', () => {
    const outcome = rowToRecord({ row: 3, ok: true, data: `{"x":"${'y'.repeat(MAX_ITEM_BYTES)}"}` }, origin);
    expect(outcome).toEqual(
      rejectRow(3, 'record_too_large', `the record is larger than the record size limit of ${MAX_ITEM_BYTES} bytes`),
    );
  });
});

describe('record steps', () => {
  const input = { row: 1, record: { id: 'i', data: '{}', source: '{}', ingestedAt: 'now' } };

  it('run in order and stop at the first rejection', () => {
    const seen: string[] = [];
    const step = (name: string, reject = false): RecordStep => (item) => {
      seen.push(name);
      return reject ? rejectRow(item.row, 'invalid', name) : passOn(item);
    };
    expect(applyRecordSteps([step('clean'), step('validate', true), step('key')], input)).toMatchObject({
      kind: 'rejected',
      rejection: { row: 1, code: 'invalid', message: 'validate' },
    });
    expect(seen).toEqual(['clean', 'validate']);
  });
});

describe('batch, tally and status', () => {
  it('a batch is full at the store’s batch size and remembers its last row', () => {
    let batch = emptyBatch();
    const record = { id: 'i', data: '{}', source: '{}', ingestedAt: 'now' };
    for (let row = 1; row <= 24; row++) batch = addToBatch(batch, { row, record });
    expect(isBatchFull(batch, 25)).toBe(false);
    batch = addToBatch(batch, { row: 25, record });
    expect(isBatchFull(batch, 25)).toBe(true);
    expect(batch.lastRow).toBe(25);
  });

  it('counts resumed rows and stored records as written', () => {
    const tally = { ...newRowTally(), rowsRead: 10, recordsResumed: 4 };
    const progress = progressOf(tally, { format: 'csv', bytesRead: 9, recordsStored: 5, storedThrough: 9, notices: [] });
    expect(progress).toMatchObject({ rowsRead: 10, recordsWritten: 9, checkpointRow: 9 });
  });

  it('status: failed with a failure, succeeded without rejections, else partial or failed', () => {
    const progress = progressOf(newRowTally(), { format: 'csv', bytesRead: 0, recordsStored: 0, storedThrough: 0, notices: [] });
    expect(jobStatusOf(progress, { code: 'x', message: 'x' })).toBe('failed');
    expect(jobStatusOf(progress, undefined)).toBe('succeeded');
    expect(jobStatusOf({ ...progress, rowsRejected: 1, recordsWritten: 1 }, undefined)).toBe('partial');
    expect(jobStatusOf({ ...progress, rowsRejected: 1 }, undefined)).toBe('failed');
  });
});

describe('JobRunner pipeline', () => {
  it('writes every row once, in batches, and checkpoints what is stored', async () => {
    const stores = fakeStores(ndjson(60));
    const result = await runnerOver(stores).run(project, jobFor('a.ndjson'), new AbortController().signal);
    expect(result.kind).toBe('finished');
    expect(stores.finished()).toMatchObject({ status: 'succeeded', rowsRead: 60, recordsWritten: 60, rowsRejected: 0 });
    expect(new Set(stores.written.map((r) => r.id)).size).toBe(60);
    expect(stores.checkpoints.at(-1)!.checkpointRow).toBeGreaterThanOrEqual(50);
  });

  it('a record step slotted in rejects rows with a recorded reason; counts stay exact', async () => {
    const stores = fakeStores(ndjson(10));
    const odd: RecordStep = (item) =>
      (JSON.parse(item.record.data) as { n: number }).n % 2 === 0 ? rejectRow(item.row, 'even', 'n is even') : passOn(item);
    await runnerOver(stores, [odd]).run(project, jobFor('a.ndjson'), new AbortController().signal);
    const outcome = stores.finished()!;
    expect(outcome).toMatchObject({ status: 'partial', rowsRead: 10, recordsWritten: 5, rowsRejected: 5 });
    expect(outcome.errors.map((e) => [e.row, e.code])).toEqual([2, 4, 6, 8, 10].map((row) => [row, 'even']));
    expect(stores.uploads.get(outcome.errorReportKey!)!.trim().split('\n')).toHaveLength(5);
    expect(stores.written.map((r) => JSON.parse(r.data) as unknown)).toEqual([1, 3, 5, 7, 9].map((n) => ({ n })));
  });

  it('resumes past the checkpoint: earlier rows are counted, not written again', async () => {
    const stores = fakeStores(ndjson(30));
    await runnerOver(stores).run(project, jobFor('a.ndjson', 26), new AbortController().signal);
    expect(stores.finished()).toMatchObject({ status: 'succeeded', rowsRead: 30, recordsWritten: 30, checkpointRow: 30 });
    expect(stores.written.map((r) => JSON.parse(r.source) as { row: number }).map((s) => s.row)).toEqual([27, 28, 29, 30]);
  });

  it('a file failure after some rows stores those rows and fails the job with its reason', async () => {
    const stores = fakeStores(`[{"a":1},{"a":2},{"a":3`);
    await runnerOver(stores).run(project, jobFor('a.json'), new AbortController().signal);
    expect(stores.finished()).toMatchObject({
      status: 'failed',
      rowsRead: 2,
      recordsWritten: 2,
      failure: { code: 'malformed_json' },
    });
    expect(stores.written).toHaveLength(2);
  });
});
