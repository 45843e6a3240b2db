// The poller over the real emulators: objects that arrive without the API, many pollers on
// the same objects, leases that expire, resuming from a checkpoint after a crash, storage
// outages mid-job, shutdown mid-job, and how little an idle poller asks of storage.
// Faults are injected by wrapping the real adapters (a call fails or hangs, then goes through).
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileRowId, fileRowIdPrefix } from '../../src/domain/ids.js';
import { errors } from '../../src/errors.js';
import type { Poller } from '../../src/ingest/poller.js';
import type { JobProgress, StoredRecord } from '../../src/domain/model.js';
import type { RecordStore } from '../../src/storage/ports.js';
import {
  bucketObjects,
  createPoller,
  createProjectWithKey,
  eventually,
  instrument,
  jobForObject,
  listJobs,
  storedRecords,
  uploadFile,
  waitForJob,
  type TestProject,
} from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

function csvRows(rows: number, from = 1): string {
  const lines = [];
  for (let i = from; i < from + rows; i++) lines.push(`${i},customer ${i},${String(i).padStart(8, '0')}`);
  return lines.join('\n');
}
const csvFile = (rows: number) => `id,name,phone\n${csvRows(rows)}\n`;

/** Every record of the project, by row, with the checks that hold for any finished file. */
async function expectEachRowOnce(t: TestApp, p: TestProject, jobId: string, rows: number) {
  const records = (await storedRecords(t, p)).filter((r) => (JSON.parse(r.source) as { jobId: string }).jobId === jobId);
  const byRow = new Map<number, StoredRecord>();
  for (const record of records) byRow.set((JSON.parse(record.source) as { row: number }).row, record);
  expect(records).toHaveLength(rows);
  expect(byRow.size).toBe(rows);
  for (let row = 1; row <= rows; row++) {
    const record = byRow.get(row);
    expect(record, `row ${row}`).toBeDefined();
    expect(JSON.parse(record!.data)).toEqual({ id: String(row), name: `customer ${row}`, phone: String(row).padStart(8, '0') });
  }
  return byRow;
}

/** A records store that logs which rows of which table were really written. */
function recordingRecords(records: RecordStore, extra: { beforeWrite?: (table: string, batch: StoredRecord[]) => Promise<void> } = {}) {
  const written = new Map<string, string[]>();
  const wrapped = instrument(records, {
    putRecords: async (table: string, batch: StoredRecord[]) => {
      await extra.beforeWrite?.(table, batch);
      await records.putRecords(table, batch);
      const list = written.get(table) ?? [];
      list.push(...batch.map((r) => r.id));
      written.set(table, list);
    },
  });
  return { records: wrapped.proxy, written: (table: string) => written.get(table) ?? [] };
}

async function stopAll(...pollers: Poller[]) {
  await Promise.all(pollers.map((poller) => poller.stop()));
}

describe('poller', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('ingests an object put straight into incoming/ (as the AWS CLI would), and one API upload makes one job', async () => {
    const p = await createProjectWithKey(t, 'drop');
    await t.storage.objects.putStream(p.project.bucketName, 'incoming/drop/customers.csv', Readable.from([Buffer.from(csvFile(40))]), {
      contentType: 'text/csv',
    });
    await t.storage.objects.putStream(p.project.bucketName, 'incoming/plain.ndjson', Readable.from([Buffer.from('{"a":1}\n{"a":2}\n')]));
    const viaApi = await uploadFile(t, p, 'api.csv', csvFile(5), 'text/csv');
    const poller = createPoller(t);
    poller.start();
    try {
      const dropped = await jobForObject(t, p, 'incoming/drop/customers.csv');
      const droppedJob = await waitForJob(t, p, dropped.id);
      expect(droppedJob).toMatchObject({ status: 'succeeded', format: 'csv', fileName: 'customers.csv', rowsRead: 40, recordsWritten: 40, attempts: 1 });
      expect(droppedJob.objectKey).toBe('processed/drop/customers.csv');
      await expectEachRowOnce(t, p, droppedJob.id, 40);

      const plain = await waitForJob(t, p, (await jobForObject(t, p, 'incoming/plain.ndjson')).id);
      expect(plain).toMatchObject({ status: 'succeeded', format: 'ndjson', recordsWritten: 2, objectKey: 'processed/plain.ndjson' });

      const api = await waitForJob(t, p, viaApi.jobId);
      expect(api).toMatchObject({ status: 'succeeded', recordsWritten: 5, attempts: 1 });
      // The poller found the uploaded object too, and agreed on the job the upload created.
      await eventually(async () => (await bucketObjects(t, p, 'incoming/')).length === 0, 'incoming/ to empty');
      const jobs = await listJobs(t, p);
      expect(jobs).toHaveLength(3);
      expect(jobs.filter((j) => j.fileId === viaApi.fileId)).toHaveLength(1);
      const keys = (await bucketObjects(t, p)).map((o) => o.key).sort();
      expect(keys).toEqual([`processed/${viaApi.fileId}/api.csv`, 'processed/drop/customers.csv', 'processed/plain.ndjson'].sort());
    } finally {
      await poller.stop();
    }
  });

  it('a dropped key with spaces, %, #, + and ? is ingested and moved; a folder marker is left alone', async () => {
    const p = await createProjectWithKey(t, 'keys');
    const key = 'incoming/exports 2024/report #1 = 100% + more?.csv';
    await t.storage.objects.putStream(p.project.bucketName, key, Readable.from([Buffer.from(csvFile(3))]));
    // The S3 console's "Create folder" makes an empty object whose key ends with a slash.
    await t.storage.objects.putStream(p.project.bucketName, 'incoming/exports 2024/', Readable.from([Buffer.alloc(0)]));
    const poller = createPoller(t);
    poller.start();
    try {
      const job = await waitForJob(t, p, (await jobForObject(t, p, key)).id);
      expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 3, fileName: 'report #1 = 100% + more?.csv' });
      expect(job.objectKey).toBe('processed/exports 2024/report #1 = 100% + more?.csv');
      await eventually(async () => (await t.storage.objects.head(p.project.bucketName, key)) === null, 'the move');
      await expectEachRowOnce(t, p, job.id, 3);
      await sleep(500);
      expect(await listJobs(t, p)).toHaveLength(1);
      expect((await bucketObjects(t, p, 'incoming/')).map((o) => o.key)).toEqual(['incoming/exports 2024/']);
    } finally {
      await poller.stop();
    }
  });

  it('two pollers on the same objects never process one twice', async () => {
    const p = await createProjectWithKey(t, 'two');
    const files = 6;
    const rows = 120;
    const uploads = [];
    for (let i = 0; i < files; i++) uploads.push(await uploadFile(t, p, `part-${i}.csv`, csvFile(rows), 'text/csv'));
    const a = recordingRecords(t.storage.records);
    const b = recordingRecords(t.storage.records);
    const first = createPoller(t, {}, { ...t.storage, records: a.records });
    const second = createPoller(t, {}, { ...t.storage, records: b.records });
    first.start();
    second.start();
    try {
      const jobs = await Promise.all(uploads.map((u) => waitForJob(t, p, u.jobId)));
      for (const job of jobs) expect(job).toMatchObject({ status: 'succeeded', attempts: 1, rowsRead: rows, recordsWritten: rows });
      for (const job of jobs) await expectEachRowOnce(t, p, job.id, rows);
      const written = [...a.written(p.project.tableName), ...b.written(p.project.tableName)];
      // Each row written by exactly one poller, exactly once.
      expect(written).toHaveLength(files * rows);
      expect(new Set(written).size).toBe(files * rows);
      expect(await storedRecords(t, p)).toHaveLength(files * rows);
    } finally {
      await stopAll(first, second);
    }
  });

  it('a lease whose worker died is taken over once it expires; each row is stored once', async () => {
    const p = await createProjectWithKey(t, 'lease');
    const up = await uploadFile(t, p, 'leased.csv', csvFile(60), 'text/csv');
    const claimedAt = Date.now();
    const dead = await t.storage.control.claimJob(p.id, up.jobId, 'worker-that-died', 500);
    expect(dead).toMatchObject({ status: 'running', leaseOwner: 'worker-that-died', attempts: 1 });
    const claims: number[] = [];
    const control = instrument(t.storage.control, {
      claimJob: async (projectId: string, jobId: string, owner: string, leaseMs: number) => {
        const claimed = await t.storage.control.claimJob(projectId, jobId, owner, leaseMs);
        if (claimed && jobId === up.jobId) claims.push(Date.now());
        return claimed;
      },
    });
    const recorder = recordingRecords(t.storage.records);
    const poller = createPoller(t, {}, { ...t.storage, control: control.proxy, records: recorder.records });
    poller.start();
    try {
      const job = await waitForJob(t, p, up.jobId);
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, rowsRead: 60, recordsWritten: 60 });
      expect(claims).toHaveLength(1);
      expect(claims[0]! - claimedAt).toBeGreaterThanOrEqual(500);
      await expectEachRowOnce(t, p, up.jobId, 60);
      expect(recorder.written(p.project.tableName)).toHaveLength(60);
      const stored = await t.storage.control.getJob(p.id, up.jobId);
      expect(stored?.leaseOwner).toBeUndefined();
    } finally {
      await poller.stop();
    }
  });

  it('resumes from the checkpoint of a worker that crashed: rows before it are not rewritten, counts are exact', async () => {
    const p = await createProjectWithKey(t, 'resume');
    const rows = 900;
    const up = await uploadFile(t, p, 'resume.csv', csvFile(rows), 'text/csv');
    // The crashed worker claimed the job, stored rows 1..400 and checkpointed them.
    const claimed = await t.storage.control.claimJob(p.id, up.jobId, 'crashed-worker', 500);
    expect(claimed).not.toBeNull();
    const checkpointRow = 400;
    const earlier = '2000-01-01T00:00:00.000Z';
    const firstRows: StoredRecord[] = [];
    for (let row = 1; row <= checkpointRow; row++) {
      firstRows.push({
        id: fileRowId(fileRowIdPrefix(up.fileId), row),
        data: JSON.stringify({ id: String(row), name: `customer ${row}`, phone: String(row).padStart(8, '0') }),
        source: JSON.stringify({ type: 'file', fileId: up.fileId, jobId: up.jobId, fileName: 'resume.csv', row }),
        ingestedAt: earlier,
      });
    }
    await t.storage.records.putRecords(p.project.tableName, firstRows);
    const progress: JobProgress = {
      format: 'csv',
      bytesRead: 4096,
      rowsRead: checkpointRow,
      recordsWritten: checkpointRow,
      rowsRejected: 0,
      checkpointRow,
      errors: [],
      notices: [],
    };
    expect(await t.storage.control.checkpointJob(p.id, up.jobId, 'crashed-worker', 500, progress)).toBe(true);
    await sleep(600);

    const recorder = recordingRecords(t.storage.records);
    const poller = createPoller(t, {}, { ...t.storage, records: recorder.records });
    poller.start();
    try {
      const job = await waitForJob(t, p, up.jobId);
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, rowsRead: rows, recordsWritten: rows, rowsRejected: 0 });
      const byRow = await expectEachRowOnce(t, p, up.jobId, rows);
      // The resumed pass wrote only rows past the checkpoint, each once.
      const written = recorder.written(p.project.tableName);
      const expected = Array.from({ length: rows - checkpointRow }, (_, i) => fileRowId(fileRowIdPrefix(up.fileId), checkpointRow + 1 + i));
      expect([...written].sort()).toEqual([...expected].sort());
      for (let row = 1; row <= rows; row++) {
        expect(byRow.get(row)!.ingestedAt === earlier, `row ${row}`).toBe(row <= checkpointRow);
      }
      expect((await t.storage.control.getJob(p.id, up.jobId))?.checkpointRow).toBe(rows);
    } finally {
      await poller.stop();
    }
  });

  it('a worker that dies mid-job (after a real checkpoint) is resumed by another; every row once', async () => {
    const p = await createProjectWithKey(t, 'crash');
    const rows = 5000;
    const up = await uploadFile(t, p, 'crash.csv', csvFile(rows), 'text/csv');
    // The dying worker writes slowly (4 ms a row) so that it checkpoints its progress (the
    // runner does so every 2 s); from the first write after that checkpoint on, everything
    // it sends to storage hangs, as for a process that stopped, until the test lets it fail.
    let checkpointed = false;
    let dead = false;
    let bury!: (error: unknown) => void;
    const grave = new Promise<never>((_resolve, reject) => (bury = reject));
    grave.catch(() => undefined);
    const afterDeath = <T>(call: () => Promise<T>) => (dead ? grave : call());
    const dyingRecords = recordingRecords(t.storage.records, {
      beforeWrite: async (table, batch) => {
        if (table !== p.project.tableName) return;
        if (checkpointed) dead = true;
        if (dead) await grave;
        await sleep(4 * batch.length);
      },
    });
    type Control = TestApp['storage']['control'];
    const dyingControl = instrument(t.storage.control, {
      checkpointJob: (...args: Parameters<Control['checkpointJob']>) =>
        afterDeath(async () => {
          const ok = await t.storage.control.checkpointJob(...args);
          if (ok && (args[4]?.checkpointRow ?? 0) > 0) checkpointed = true;
          return ok;
        }),
      finishJob: (...args: Parameters<Control['finishJob']>) => afterDeath(() => t.storage.control.finishJob(...args)),
      releaseJob: (...args: Parameters<Control['releaseJob']>) => afterDeath(() => t.storage.control.releaseJob(...args)),
    });
    const dying = createPoller(t, { leaseMs: 1500 }, { ...t.storage, control: dyingControl.proxy, records: dyingRecords.records });
    await dying.pollOnce();
    await eventually(() => dead, 'the worker to die', 30_000);
    const checkpoint = await t.storage.control.getJob(p.id, up.jobId);
    expect(checkpoint?.leaseOwner).toBe(dying.owner);
    expect(checkpoint?.checkpointRow).toBeGreaterThan(0);
    expect(checkpoint?.checkpointRow).toBeLessThan(rows);
    const diedAfter = checkpoint!.checkpointRow;

    const recorder = recordingRecords(t.storage.records);
    const survivor = createPoller(t, {}, { ...t.storage, records: recorder.records });
    survivor.start();
    try {
      const job = await waitForJob(t, p, up.jobId, 30_000);
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, rowsRead: rows, recordsWritten: rows });
      await expectEachRowOnce(t, p, up.jobId, rows);
      const before = new Set(dyingRecords.written(p.project.tableName));
      const after = recorder.written(p.project.tableName);
      // The survivor wrote exactly the rows past the checkpoint; nothing is missing.
      const expected = Array.from({ length: rows - diedAfter }, (_, i) => fileRowId(fileRowIdPrefix(up.fileId), diedAfter + 1 + i));
      expect([...after].sort()).toEqual(expected.sort());
      expect(before.size).toBeGreaterThanOrEqual(diedAfter);
      expect(new Set([...before, ...after]).size).toBe(rows);
    } finally {
      bury(errors.storageUnavailable(new Error('worker is gone')));
      await stopAll(survivor, dying);
    }
  });

  it('storage unavailable for a while mid-job: the job is released, resumed and completes with nothing lost', async () => {
    const p = await createProjectWithKey(t, 'outage');
    const rows = 1300;
    const up = await uploadFile(t, p, 'outage.csv', csvFile(rows), 'text/csv');
    let calls = 0;
    let failures = 0;
    let downUntil = 0;
    const recorder = recordingRecords(t.storage.records, {
      beforeWrite: async (table) => {
        if (table !== p.project.tableName) return;
        calls++;
        // The first write goes through, then storage is down for a second.
        if (calls === 2) downUntil = Date.now() + 1000;
        if (Date.now() < downUntil) {
          failures++;
          throw errors.storageUnavailable(new Error('injected outage'));
        }
      },
    });
    const poller = createPoller(t, {}, { ...t.storage, records: recorder.records });
    poller.start();
    try {
      const job = await waitForJob(t, p, up.jobId, 30_000);
      expect(failures).toBeGreaterThan(0);
      expect(job).toMatchObject({ status: 'succeeded', rowsRead: rows, recordsWritten: rows, rowsRejected: 0, errors: [], failure: null });
      // Released at the outage and claimed again (possibly more than once while it lasted).
      expect(job.attempts).toBeGreaterThanOrEqual(2);
      await expectEachRowOnce(t, p, up.jobId, rows);
      // Nothing lost: every row was written (rows past a failed write may be written again).
      const written = recorder.written(p.project.tableName);
      expect(new Set(written).size).toBe(rows);
    } finally {
      await poller.stop();
    }
  });

  it.each([
    ['S3 refuses the read', 'objects', 'getStream', 2],
    ['DynamoDB refuses the final job update', 'control', 'finishJob', 2],
  ] as const)('%s twice: the job is retried from its checkpoint and completes', async (_what, store, method, failures) => {
    const p = await createProjectWithKey(t, 'fault');
    const rows = 700;
    const up = await uploadFile(t, p, 'fault.csv', csvFile(rows), 'text/csv');
    let failed = 0;
    const target = t.storage[store] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const wrapped = instrument(target, {
      [method]: async (...args: unknown[]) => {
        // Only this project's job is failed (other tests' leftovers are not touched).
        if (failed < failures && args.includes(store === 'objects' ? p.project.bucketName : p.id)) {
          failed++;
          throw errors.storageUnavailable(new Error('injected'));
        }
        return target[method]!(...args);
      },
    });
    const recorder = recordingRecords(t.storage.records);
    const poller = createPoller(t, {}, { ...t.storage, [store]: wrapped.proxy, records: recorder.records });
    poller.start();
    try {
      const job = await waitForJob(t, p, up.jobId);
      expect(failed).toBe(failures);
      expect(job).toMatchObject({ status: 'succeeded', attempts: failures + 1, rowsRead: rows, recordsWritten: rows });
      await expectEachRowOnce(t, p, up.jobId, rows);
      expect(recorder.written(p.project.tableName)).toHaveLength(rows);
      await eventually(async () => (await bucketObjects(t, p, 'incoming/')).length === 0, 'the move to processed/');
    } finally {
      await poller.stop();
    }
  });

  it('a poller stopped mid-job releases the lease with its checkpoint; another finishes the job', async () => {
    const p = await createProjectWithKey(t, 'stop');
    const rows = 1600;
    const up = await uploadFile(t, p, 'stop.csv', csvFile(rows), 'text/csv');
    let writes = 0;
    const slow = recordingRecords(t.storage.records, {
      beforeWrite: async (table, batch) => {
        if (table !== p.project.tableName) return;
        writes++;
        await sleep(batch.length);
      },
    });
    const first = createPoller(t, {}, { ...t.storage, records: slow.records });
    await first.pollOnce();
    await eventually(() => writes >= 2, 'two chunks written');
    const stoppedAt = Date.now();
    await first.stop();
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    const released = await t.storage.control.getJob(p.id, up.jobId);
    expect(released).toMatchObject({ status: 'running' });
    expect(released?.leaseOwner).toBeUndefined();
    // The checkpoint promises only rows that are stored.
    const storedBefore = new Set(slow.written(p.project.tableName));
    const checkpointRow = released!.checkpointRow;
    expect(checkpointRow).toBeGreaterThan(0);
    for (let row = 1; row <= checkpointRow; row++) expect(storedBefore.has(fileRowId(fileRowIdPrefix(up.fileId), row))).toBe(true);

    const recorder = recordingRecords(t.storage.records);
    const second = createPoller(t, {}, { ...t.storage, records: recorder.records });
    second.start();
    try {
      const job = await waitForJob(t, p, up.jobId);
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, rowsRead: rows, recordsWritten: rows });
      await expectEachRowOnce(t, p, up.jobId, rows);
      // The second poller wrote only what the checkpoint did not cover.
      expect(recorder.written(p.project.tableName)).toHaveLength(rows - checkpointRow);
    } finally {
      await second.stop();
    }
  });

  it('a job that keeps failing for a non-storage reason is failed after a bounded number of claims', async () => {
    const p = await createProjectWithKey(t, 'poison');
    const up = await uploadFile(t, p, 'poison.csv', csvFile(10), 'text/csv');
    const broken = recordingRecords(t.storage.records, {
      beforeWrite: async (table) => {
        if (table === p.project.tableName) throw new Error('a bug, not an outage');
      },
    });
    const poller = createPoller(t, {}, { ...t.storage, records: broken.records });
    poller.start();
    try {
      const job = await waitForJob(t, p, up.jobId);
      expect(job.status).toBe('failed');
      expect(job.failure?.code).toBe('processing_failed');
      expect(job.attempts).toBe(3);
      expect(job.objectKey.startsWith('failed/')).toBe(true);
      expect(await storedRecords(t, p)).toEqual([]);
    } finally {
      await poller.stop();
    }
  });
});

describe('idle poller', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // A few projects with nothing to do: one settled file each.
    for (let i = 0; i < 3; i++) {
      const p = await createProjectWithKey(t, 'idle');
      await t.storage.objects.putStream(p.project.bucketName, 'processed/old/done.csv', Readable.from([Buffer.from('a\n1\n')]));
    }
  });
  afterAll(async () => t.close());

  it('backs off: a bounded number of storage calls per second', async () => {
    const objects = instrument(t.storage.objects);
    const control = instrument(t.storage.control);
    const records = instrument(t.storage.records);
    const poller = createPoller(t, { intervalMs: 100, maxIdleIntervalMs: 1000 }, { objects: objects.proxy, control: control.proxy, records: records.proxy });
    const cpuBefore = process.cpuUsage();
    const started = Date.now();
    poller.start();
    await sleep(3000);
    await poller.stop();
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const lists = objects.calls.list ?? 0;
    const total = [objects.calls, control.calls, records.calls].flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
    // Polls at ~0, 0.2, 0.6, 1.4, 2.4 s: five passes over three projects.
    expect(lists).toBeGreaterThanOrEqual(3);
    expect(lists).toBeLessThanOrEqual(3 * 6);
    expect(total / seconds).toBeLessThan(10);
    expect(records.calls.putRecords ?? 0).toBe(0);
    // Nothing to do: one project listing and one bucket listing per project, per pass; and
    // the sweep for orphaned jobs once at the first pass (one page of jobs per project: each
    // holds fewer than a page), then not again within its 5-minute interval.
    expect(Object.keys(objects.calls).sort()).toEqual(['list']);
    expect(Object.keys(control.calls).sort()).toEqual(['listJobs', 'listProjects']);
    expect(control.calls.listProjects).toBeLessThanOrEqual(6);
    expect(control.calls.listJobs).toBe(3);
    // An idle poller sleeps: far below one core.
    expect((cpu.user + cpu.system) / 1000 / (seconds * 1000)).toBeLessThan(0.5);
  });

  it('with the fast test settings it still stays under its interval', async () => {
    const objects = instrument(t.storage.objects);
    const poller = createPoller(t, {}, { ...t.storage, objects: objects.proxy });
    const started = Date.now();
    poller.start();
    await sleep(2000);
    await poller.stop();
    const seconds = (Date.now() - started) / 1000;
    // At most one pass per 100-200 ms, three buckets per pass.
    expect((objects.calls.list ?? 0) / 3).toBeLessThanOrEqual(seconds / 0.1 + 1);
  });
});

describe('poller in embedded mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded' });
  });
  afterAll(async () => t.close());

  it('a file copied into <data dir>/objects/<bucket>/incoming/ is ingested and moved to processed/', async () => {
    const p = await createProjectWithKey(t, 'fsdrop');
    const dir = path.join(t.config.dataDir, 'objects', p.project.bucketName, 'incoming', 'drops');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'customers.csv.gz'), gzipSync(csvFile(30)));
    await fs.writeFile(path.join(dir, 'bad.csv'), 'id,name\n1\n2,b\n');
    const poller = createPoller(t);
    poller.start();
    try {
      const good = await waitForJob(t, p, (await jobForObject(t, p, 'incoming/drops/customers.csv.gz')).id);
      expect(good).toMatchObject({ status: 'succeeded', format: 'csv', recordsWritten: 30, objectKey: 'processed/drops/customers.csv.gz' });
      await expectEachRowOnce(t, p, good.id, 30);
      const bad = await waitForJob(t, p, (await jobForObject(t, p, 'incoming/drops/bad.csv')).id);
      expect(bad).toMatchObject({ status: 'partial', recordsWritten: 1, rowsRejected: 1 });
      await eventually(async () => (await bucketObjects(t, p, 'incoming/')).length === 0, 'incoming/ to empty');
      await fs.access(path.join(t.config.dataDir, 'objects', p.project.bucketName, 'processed', 'drops', 'customers.csv.gz'));
    } finally {
      await poller.stop();
    }
  });
});
