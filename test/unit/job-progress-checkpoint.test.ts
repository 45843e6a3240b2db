// A job that writes nothing still reports how far it has read, on the checkpoint interval:
// a compression bomb inflating into blank lines, or a file whose every row is rejected,
// must not sit at bytesRead 0 until it ends.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { JobOutcome, JobProgress, ProjectItem, StoredRecord } from '../../src/domain/model.js';
import { JobRunner } from '../../src/ingest/job-runner.js';
import { newJob } from '../../src/ingest/jobs.js';
import type { ControlStore, ObjectStore, RecordStore } from '../../src/storage/ports.js';

const project: ProjectItem = { id: 'p', name: 'p', createdAt: '2026-01-01T00:00:00.000Z', tableName: 't', bucketName: 'b' };

/** A file that arrives slowly: one rejected row, then blank lines in 20 ms steps. */
function slowFile(steps: number): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from('[1]\n');
      for (let i = 0; i < steps; i++) {
        await sleep(20);
        yield Buffer.from('\n'.repeat(1000));
      }
    })(),
  );
}

describe('progress of a job that writes nothing', () => {
  it('checkpoints bytesRead on the checkpoint interval while no record is written', async () => {
    const checkpoints: { at: number; progress: JobProgress }[] = [];
    const written: StoredRecord[] = [];
    let finished: { at: number; outcome: JobOutcome } | undefined;
    const objects = {
      getStream: async () => slowFile(25),
      move: async () => undefined,
      head: async () => ({ key: 'k', size: 25_004, lastModified: new Date() }),
      putStream: async (_b: string, _k: string, body: Readable) => {
        for await (const _ of body) void _;
      },
    } as unknown as ObjectStore;
    const control = {
      checkpointJob: async (_p: string, _j: string, _o: string, _l: number, progress?: JobProgress) => {
        if (progress) checkpoints.push({ at: Date.now(), progress });
        return true;
      },
      finishJob: async (_p: string, _j: string, _o: string, outcome: JobOutcome) => {
        finished = { at: Date.now(), outcome };
        return true;
      },
      releaseJob: async () => undefined,
      // The pipeline keeps refused rows and the fields it stored; these tests look at neither.
      quarantine: { putEntries: async () => undefined },
      catalog: { mergeFields: async () => [] },
    } as unknown as ControlStore;
    const records = {
      writeBatchSize: 25,
      putRecords: async (_t: string, batch: StoredRecord[]) => void written.push(...batch),
    } as unknown as RecordStore;
    const runner = new JobRunner({
      objects, control, records, owner: 'test', leaseMs: 60_000, maxDecompressedBytes: 1 << 30,
      checkpointIntervalMs: 100, maxAttempts: 3,
    });
    const job = { ...newJob(project, { key: 'incoming/slow.ndjson', etag: 'e', size: 25_004, fileName: 'slow.ndjson' }), status: 'running' as const, attempts: 1 };

    const result = await runner.run(project, job, new AbortController().signal);

    expect(result.kind).toBe('finished');
    expect(written).toEqual([]);
    expect(finished!.outcome).toMatchObject({ recordsWritten: 0, rowsRejected: 1 });
    // About 500 ms of reading at a 100 ms interval: several checkpoints, with growing bytesRead.
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    const bytes = checkpoints.map((c) => c.progress.bytesRead);
    expect(bytes[0]).toBeGreaterThan(0);
    expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
    expect(bytes.at(-1)).toBeGreaterThan(bytes[0]!);
    // None lands after the job was finished.
    expect(checkpoints.every((c) => c.at <= finished!.at)).toBe(true);
  });
});
