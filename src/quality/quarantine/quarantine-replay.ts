import { randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import { writeKeyedChanges } from '../../domain/keyed-records.js';
import { objectlessJob, type JobItem, type JobProgress, type ProjectItem, type RowError, type StoredRecord } from '../../domain/model.js';
import { isKeyed } from '../../domain/record-model.js';
import { errors } from '../../errors.js';
import { keyRecordStep } from '../../ingest/pipeline/key-record.js';
import { applyRecordSteps, type FileRecord, type RecordStep } from '../../ingest/pipeline/record-steps.js';
import { fileRecordOrigin, rowToRecord } from '../../ingest/pipeline/row-to-record.js';
import type { StepOutcome } from '../../ingest/pipeline/step-outcome.js';
import type { ControlStore, RecordStore } from '../../storage/ports.js';
import { FileFieldCatalog } from '../catalog/file-field-catalog.js';
import { cleanerOf } from '../record-cleaner.js';
import { reasonOf, type QuarantineEntry, type QuarantineFilter } from './quarantine-entry.js';

/** The name a replay job shows where a file job shows its file. */
export const REPLAY_JOB_NAME = '(quarantine replay)';

/** Entries replayed per step; the lease is extended and progress saved after each. */
const PAGE = 100;
const DEFAULT_LEASE_MS = 30_000;

interface Tally {
  /** The rows stored, counted into the project's field catalog: they were never tallied when refused. */
  fields: FileFieldCatalog;
  read: number;
  stored: number;
  stillFailing: number;
  errors: RowError[];
}

/**
 * Replays quarantined rows through the project's current model, as a job of the project
 * (listed with the file jobs: `rowsRead` = entries read, `recordsWritten` = rows stored,
 * `rowsRejected` = rows that still fail, and stay with their new reason). One replay per
 * project runs at a time (a lease in the quarantine store; a second one is 409).
 *
 * Exactly once: a row gets the record id (and, keyed, the change mark) its source would
 * have given it, so storing it again changes nothing; its entry is deleted only after the
 * record is stored. A replay stopped anywhere (kill -9 included) is resumed by starting
 * another once its lease has expired: rows already stored left the quarantine, and a row
 * stored but still listed is stored again to the same effect, then leaves.
 */
export class QuarantineReplay {
  private readonly owner = `replay-${process.pid}-${randomUUID()}`;

  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly options: { leaseMs?: number; now?: () => number } = {},
  ) {}

  private get leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Takes the project's replay lease and creates the job; `done` settles when it has finished. */
  async start(project: ProjectItem, filter: QuarantineFilter): Promise<{ job: JobItem; done: Promise<void> }> {
    const quarantine = this.control.quarantine;
    if (!(await quarantine.claimReplay(project.id, this.owner, this.leaseMs, this.now()))) throw errors.replayInProgress();
    try {
      const at = new Date(this.now()).toISOString();
      const id = ulid();
      const filters = [filter.jobId && `job ${filter.jobId}`, filter.code && `code ${filter.code}`].filter(Boolean).join(', ');
      const job = objectlessJob(project, id, at, {
        name: REPLAY_JOB_NAME,
        etag: `model-v${project.model?.version ?? 0}`,
        notice: `Replays ${filters || 'every quarantined row'} through model version ${project.model?.version ?? 'none'}.`,
      });
      await this.control.createJob(job);
      const claimed = await this.control.claimJob(project.id, id, this.owner, this.leaseMs);
      if (!claimed) throw errors.replayInProgress();
      return { job: claimed, done: this.run(project, claimed, filter) };
    } catch (error) {
      await quarantine.releaseReplay(project.id, this.owner).catch(() => undefined);
      throw error;
    }
  }

  private async run(project: ProjectItem, job: JobItem, filter: QuarantineFilter): Promise<void> {
    const quarantine = this.control.quarantine;
    const tally: Tally = { fields: new FileFieldCatalog(this.control.catalog, project, job), read: 0, stored: 0, stillFailing: 0, errors: [] };
    const progress = (): JobProgress => ({
      format: null,
      bytesRead: 0,
      rowsRead: tally.read,
      recordsWritten: tally.stored,
      rowsRejected: tally.stillFailing,
      checkpointRow: tally.read,
      errors: tally.errors.slice(0, 20),
      notices: job.notices,
      ...tally.fields.drift(),
    });
    try {
      let after: string | undefined;
      do {
        const page = await quarantine.listEntries(project.id, { ...filter, limit: PAGE, after, now: this.now() });
        await this.replayPage(project, page.items, tally);
        after = page.next;
        // Merged every few thousand rows and at the end, as a file job does; the checkpoint
        // below then carries the drift found so far.
        if (tally.fields.due || after === undefined) await tally.fields.flush();
        const held = await quarantine.claimReplay(project.id, this.owner, this.leaseMs, this.now());
        const saved = await this.control.checkpointJob(project.id, job.id, this.owner, this.leaseMs, progress());
        if (!held || !saved) return;
      } while (after !== undefined);
      const status = tally.stillFailing > 0 ? (tally.stored > 0 ? 'partial' : 'failed') : 'succeeded';
      const failure = status === 'failed' ? { failure: { code: 'rows_still_failing', message: 'No quarantined row passes the current model.' } } : {};
      await this.control.finishJob(project.id, job.id, this.owner, { ...progress(), status, objectKey: '', ...failure });
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 300) : 'replay failed';
      await this.control
        .finishJob(project.id, job.id, this.owner, { ...progress(), status: 'failed', objectKey: '', failure: { code: 'replay_failed', message } })
        .catch(() => undefined);
    } finally {
      await quarantine.releaseReplay(project.id, this.owner).catch(() => undefined);
    }
  }

  /** One page: each entry through the current model, the passing ones stored, then their entries deleted. */
  private async replayPage(project: ProjectItem, entries: readonly QuarantineEntry[], tally: Tally): Promise<void> {
    const model = project.model;
    const writable: { entry: QuarantineEntry; input: FileRecord }[] = [];
    const failed: { entry: QuarantineEntry; rejection: RowError }[] = [];
    const stored: QuarantineEntry[] = [];
    // A row the current model's filter leaves out is no longer refused: it leaves, unstored.
    const skipped: QuarantineEntry[] = [];
    for (const entry of entries) {
      tally.read++;
      const outcome = replayOutcome(project, entry);
      if (outcome.kind === 'ok') writable.push({ entry, input: outcome.value });
      else if (outcome.kind === 'rejected') failed.push({ entry, rejection: outcome.rejection });
      else if (outcome.kind === 'skipped') skipped.push(entry);
      else failed.push({ entry, rejection: { row: 0, code: outcome.failure.code, message: outcome.failure.message } });
    }
    const storedRecords: StoredRecord[] = [];
    if (isKeyed(model)) {
      const outcomes = await writeKeyedChanges(this.records, project.tableName, model, writable.map((p) => p.input.change!));
      outcomes.forEach((outcome, i) => {
        const { entry, input } = writable[i]!;
        if (outcome.status === 'rejected') failed.push({ entry, rejection: { row: 0, code: outcome.code, message: outcome.message } });
        else {
          stored.push(entry);
          storedRecords.push(input.record);
        }
      });
    } else {
      storedRecords.push(...writable.map((p) => p.input.record));
      await this.records.putRecords(project.tableName, storedRecords);
      stored.push(...writable.map((p) => p.entry));
    }
    // The rows' cleaned data, as a file job counts its rows (before any merge with a customer's record).
    tally.fields.addBatch(storedRecords);
    // Only once the records are stored do their entries leave; rows still failing keep their
    // entry, with the reason and model version of this replay.
    for (const entry of [...stored, ...skipped]) await this.control.quarantine.deleteEntry(project.id, entry.id);
    tally.stored += stored.length;
    tally.stillFailing += failed.length;
    for (const { rejection } of failed) if (tally.errors.length < 20) tally.errors.push(rejection);
    await this.control.quarantine.putEntries(
      project.id,
      failed.map(({ entry, rejection }) => ({ ...entry, reason: reasonOf(rejection), modelVersion: model?.version ?? null })),
    );
  }
}

/**
 * An entry through the steps a file row takes (row to record with the model's cleaning and
 * schema, then the key), under the record id and change mark of its source: a file row
 * those of its file and row, a pushed record those of its entry.
 */
function replayOutcome(project: ProjectItem, entry: QuarantineEntry): StepOutcome<FileRecord> {
  if (entry.raw === null) {
    return { kind: 'rejected', rejection: { row: 0, ...entry.reason } };
  }
  const source = entry.source;
  const origin =
    source.type === 'file'
      ? { id: source.jobId, fileId: source.fileId, fileName: source.fileName, row: source.row }
      : { id: entry.id, fileId: entry.id, fileName: REPLAY_JOB_NAME, row: source.index + 1 };
  const job = { id: origin.id, fileId: origin.fileId, fileName: origin.fileName, rowIds: 'ordered' } as JobItem;
  const model = project.model;
  const built = rowToRecord(
    { row: origin.row, ok: true, data: entry.raw },
    fileRecordOrigin(job, entry.createdAt, cleanerOf(project.id, model)),
  );
  if (built.kind !== 'ok' || !isKeyed(model)) return built;
  const steps: RecordStep[] = [keyRecordStep(project, model, job)];
  return applyRecordSteps(steps, built.value);
}
