import type { WriteWindow } from '../write-window.js';
import type { Batch } from './batch.js';
import type { JobContext } from './job-context.js';
import { LeaseLostError, type LeaseWatch } from './lease-watch.js';

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
