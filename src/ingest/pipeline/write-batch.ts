import { countOutcomes, writeKeyedChanges, type KeyedCounts } from '../../domain/keyed-records.js';
import type { RowError } from '../../domain/model.js';
import type { KeyedModel } from '../../domain/record-model.js';
import type { WriteWindow } from '../write-window.js';
import type { Batch } from './batch.js';
import type { JobContext } from './job-context.js';
import { LeaseLostError, type LeaseWatch } from './lease-watch.js';

/** A keyed job's running counts, and what to do with a row its write rejected. */
export interface KeyedTally extends KeyedCounts {
  /** Rows whose merged record would not fit: rejected at write, so not stored. */
  rejectedAtWrite: number;
  reject(rejection: RowError): void;
  /** Stores what `reject` kept, before the write counts as done (and a checkpoint can pass its rows). */
  settle?(): Promise<void>;
}

/**
 * Step "write": hands a batch to the write window, which keeps a few writes in flight
 * while the next batches are parsed; it waits only when every slot is taken. Nothing is
 * written once the lease is known to be lost: the new holder writes those rows.
 */
export async function writeBatch(ctx: JobContext, writes: WriteWindow, lease: LeaseWatch, batch: Batch): Promise<void> {
  if (lease.lost) throw new LeaseLostError();
  const { records } = batch;
  await writes.add(() => ctx.deps.records.putRecords(ctx.project.tableName, records), batch.lastRow, records.length);
}

/**
 * Step "fold and write" of a keyed project: the batch's rows for one customer are folded,
 * in row order, into one read-merge-write of that customer's record. The counts move when
 * the write has finished, together with the rows it stored.
 */
export async function writeKeyedBatch(
  ctx: JobContext,
  writes: WriteWindow,
  lease: LeaseWatch,
  batch: Batch,
  model: KeyedModel,
  tally: KeyedTally,
): Promise<void> {
  if (lease.lost) throw new LeaseLostError();
  const entries = batch.changes ?? [];
  const write = async () => {
    const outcomes = await writeKeyedChanges(ctx.deps.records, ctx.project.tableName, model, entries.map((entry) => entry.change));
    countOutcomes(tally, outcomes);
    outcomes.forEach((outcome, i) => {
      if (outcome.status !== 'rejected') return;
      tally.rejectedAtWrite++;
      tally.reject({ row: entries[i]!.row, code: outcome.code, message: outcome.message });
    });
    await tally.settle?.();
  };
  await writes.add(write, batch.lastRow, entries.length);
}
