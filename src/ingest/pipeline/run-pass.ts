import type { JobProgress } from '../../domain/model.js';
import { FileQuarantine } from '../../quality/quarantine/file-quarantine.js';
import { FileFieldCatalog } from '../../quality/catalog/file-field-catalog.js';
import { isKeyed, type KeyedModel } from '../../domain/record-model.js';
import type { OpenedFile } from '../parsers/types.js';
import { WriteWindow } from '../write-window.js';
import { addToBatch, emptyBatch, isBatchFull, type Batch } from './batch.js';
import { ProgressCheckpoints } from './checkpoint-progress.js';
import type { ErrorReport } from './error-report.js';
import type { JobContext } from './job-context.js';
import type { LeaseWatch } from './lease-watch.js';
import { openJobSource, readJobObject, type ByteCounter } from './open-job-source.js';
import { parseRows, type ParsedRecordRow } from './parse-rows.js';
import { applyRecordSteps, type FileRecord, type RecordStep } from './record-steps.js';
import { fileRecordOrigin, rowToRecord, type FileRecordOrigin } from './row-to-record.js';
import { countRejection, newRowTally, progressOf, type RowTally } from './row-tally.js';
import type { JobFailure, StepOutcome } from './step-outcome.js';
import { keyRecordStep } from './key-record.js';
import { cleanerOf } from '../../quality/record-cleaner.js';
import { writeBatch, writeKeyedBatch, type KeyedTally } from './write-batch.js';

/** Parallel BatchWriteItem calls per job when the deps do not say (INTAKE_WRITE_CONCURRENCY's default). */
const DEFAULT_WRITE_CONCURRENCY = 4;

/**
 * How a pass ended: every row went through; the file failed (the job fails with that
 * reason); or something outside the file stopped it (storage, abort, a lost lease), and
 * the runner decides whether the job is retried.
 */
export type PassEnd = { kind: 'complete' } | { kind: 'failed'; failure: JobFailure } | { kind: 'interrupted'; error: unknown };

export interface PassResult {
  end: PassEnd;
  /** What the pass knows is stored and counted, as of its end. */
  progress: JobProgress;
}

/**
 * Rows per keyed batch at least: rows of one customer fold only within a batch, and a
 * keyed job writes one batch at a time, so a batch must be large enough to keep storage
 * busy (in DynamoDB: BatchGetItem calls of 100 keys side by side, then conditional puts).
 */
const MIN_KEYED_BATCH_ROWS = 500;

/** What one pass carries from step to step. */
interface PassState {
  readonly tally: RowTally;
  readonly writes: WriteWindow;
  /** The pass's refused rows, written to the project's quarantine batch by batch. */
  readonly quarantine: FileQuarantine;
  /** The pass's stored records counted field by field, merged into the project's catalog every few thousand. */
  readonly fields: FileFieldCatalog;
  /** Keyed projects: the model the pass applies (as the project had it when the pass began) and its counts. */
  readonly keyed?: { model: KeyedModel; tally: KeyedTally };
  input?: ByteCounter;
  file?: OpenedFile;
}

/**
 * One pass over the job's file: read → open → parse rows → row to record → record steps →
 * batch → write → checkpoint. Every pass reads the file from the start and recounts every
 * row, but writes only rows past the job's checkpoint, so counts are exact and each row
 * is stored once whether the job ran in one go or was resumed after a crash.
 */
export async function runPass(ctx: JobContext, report: ErrorReport, lease: LeaseWatch): Promise<PassResult> {
  const tally = newRowTally();
  const model = ctx.project.model;
  const quarantine = new FileQuarantine(ctx.deps.control.quarantine, ctx.project, ctx.job, ctx.deps.quarantineRetentionDays);
  const keyed = isKeyed(model) ? { model, tally: keyedTally(ctx, tally, report, quarantine) } : undefined;
  const state: PassState = {
    tally,
    quarantine,
    fields: new FileFieldCatalog(ctx.deps.control.catalog, ctx.project, ctx.job),
    // Checkpoints may promise only the rows through which every write has finished. A keyed
    // job writes one batch at a time: a later batch may hold the same customers, and rows
    // must reach a customer's record in row order.
    writes: new WriteWindow(keyed ? 1 : (ctx.deps.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY), ctx.job.checkpointRow),
    keyed,
  };
  let end: PassEnd;
  const checkpoints = new ProgressCheckpoints(ctx, () => passProgress(ctx, state));
  try {
    state.input = await readJobObject(ctx);
    const opened = await openJobSource(ctx, state.input);
    if (opened.kind === 'ok') {
      state.file = opened.value;
      end = await writeRows(ctx, state, opened.value, report, lease, checkpoints);
    } else {
      end = opened;
    }
  } catch (error) {
    // Rows already handed to storage count (or, if one of those writes failed, its error wins).
    end = await state.writes.drain().then(
      () => ({ kind: 'interrupted', error }),
      (writeError: unknown) => ({ kind: 'interrupted', error: writeError }),
    );
  } finally {
    await checkpoints.stop();
  }
  return { end, progress: passProgress(ctx, state) };
}

async function writeRows(
  ctx: JobContext,
  state: PassState,
  file: OpenedFile,
  report: ErrorReport,
  lease: LeaseWatch,
  checkpoints: ProgressCheckpoints,
): Promise<PassEnd> {
  const origin = fileRecordOrigin(ctx.job, new Date().toISOString(), cleanerOf(ctx.project.id, ctx.project.model));
  const steps = state.keyed
    ? [...(ctx.deps.recordSteps ?? []), keyRecordStep(ctx.project, state.keyed.model, ctx.job)]
    : (ctx.deps.recordSteps ?? []);
  const batchSize = state.keyed ? Math.max(MIN_KEYED_BATCH_ROWS, ctx.deps.records.writeBatchSize) : ctx.deps.records.writeBatchSize;
  let batch = emptyBatch();
  const writeAndCheckpoint = async (full: Batch): Promise<void> => {
    // Refused rows reach the quarantine before the checkpoint can pass them.
    await state.quarantine.flush();
    if (state.keyed) await writeKeyedBatch(ctx, state.writes, lease, full, state.keyed.model, state.keyed.tally);
    else await writeBatch(ctx, state.writes, lease, full);
    state.fields.addBatch(full.records, full.values);
    if (state.fields.due) await state.fields.flush();
    await checkpoints.saveIfDue();
  };
  for await (const parsed of parseRows(file, ctx.signal)) {
    if (parsed.kind !== 'failed') state.tally.rowsRead++;
    const outcome = parsed.kind === 'ok' ? recordOfRow(parsed.value, origin, steps) : parsed;
    if (outcome.kind === 'failed') {
      // A whole-file failure comes after every row before it: store the valid ones still in
      // hand, so the failed job's counts add up and a rerun of the same bytes gives the same records.
      if (batch.records.length > 0) await writeAndCheckpoint(batch);
      await state.writes.drain();
      await state.quarantine.flush();
      await state.fields.flush();
      return outcome;
    }
    if (outcome.kind === 'rejected') {
      countRejection(state.tally, report, outcome.rejection);
      state.quarantine.add(outcome.rejection, parsed.kind === 'ok' ? parsed.value.data : null);
      if (state.quarantine.full) await state.quarantine.flush();
    } else if (outcome.kind === 'skipped') {
      state.tally.rowsSkipped++;
    } else if (outcome.value.row <= ctx.job.checkpointRow) {
      // Stored by an earlier pass: count it, do not write it again.
      state.tally.recordsResumed++;
    } else {
      batch = addToBatch(batch, outcome.value);
      if (isBatchFull(batch, batchSize)) {
        await writeAndCheckpoint(batch);
        batch = emptyBatch();
      }
    }
  }
  if (batch.records.length > 0) await writeAndCheckpoint(batch);
  await state.writes.drain();
  await state.quarantine.flush();
  await state.fields.flush();
  return { kind: 'complete' };
}

/** Row to record, then the record steps, in that order for every row. */
function recordOfRow(row: ParsedRecordRow, origin: FileRecordOrigin, steps: readonly RecordStep[]): StepOutcome<FileRecord> {
  const built = rowToRecord(row, origin);
  return built.kind === 'ok' && steps.length > 0 ? applyRecordSteps(steps, built.value) : built;
}

function passProgress(ctx: JobContext, state: PassState): JobProgress {
  const keyed = state.keyed?.tally;
  const progress = progressOf(state.tally, {
    format: state.file?.format ?? ctx.job.format,
    bytesRead: state.input?.bytes ?? 0,
    recordsStored: state.writes.recordsStored - (keyed?.rejectedAtWrite ?? 0),
    storedThrough: state.writes.storedThrough,
    notices: state.file?.notices ?? [],
  });
  Object.assign(progress, state.fields.drift());
  if (keyed === undefined) return progress;
  return {
    ...progress,
    recordsCreated: keyed.recordsCreated,
    recordsUpdated: keyed.recordsUpdated,
    recordsUnchanged: keyed.recordsUnchanged,
  };
}

/**
 * A keyed pass's counts start from the job's checkpoint: rows at or before it are not
 * written again, so what they did is known only from the pass that wrote them. (A job
 * writes one batch at a time, so a checkpoint's counts are exactly those of its rows.)
 */
function keyedTally(ctx: JobContext, tally: RowTally, report: ErrorReport, quarantine: FileQuarantine): KeyedTally {
  return {
    recordsCreated: ctx.job.recordsCreated ?? 0,
    recordsUpdated: ctx.job.recordsUpdated ?? 0,
    recordsUnchanged: ctx.job.recordsUnchanged ?? 0,
    rejectedAtWrite: 0,
    reject: (rejection) => {
      countRejection(tally, report, rejection);
      // Refused at write, where only the row's change is at hand, not its text.
      quarantine.add(rejection, null);
    },
    settle: () => quarantine.flush(),
  };
}
