import { ulid } from 'ulid';
import { parseStoredJson } from './json-text.js';
import { objectlessJob, type IndexEntry, type JobItem, type ProjectItem, type StoredRecord } from './model.js';
import { indexEntriesOf, type StoredModel } from './record-model.js';
import type { ControlStore, RecordStore } from '../storage/ports.js';

/** Records read and rewritten per step; progress is saved after each. */
const PAGE = 200;
const LEASE_MS = 60_000;

/** The name a backfill job shows where a file job shows its file. */
export const BACKFILL_JOB_NAME = '(index backfill)';

const sameEntries = (a: readonly IndexEntry[], b: readonly IndexEntry[]) =>
  a.length === b.length && a.every((entry, i) => entry.field === b[i]!.field && entry.slot === b[i]!.slot && entry.value === b[i]!.value);

/** A record with its index entries as `model` declares them, or null when they already are. */
export function reindexed(current: StoredRecord | null, model: StoredModel): StoredRecord | null {
  if (current?.keyed === undefined) return null;
  const index = indexEntriesOf(parseStoredJson(current.data), model);
  if (sameEntries(index, current.keyed.index)) return null;
  return { ...current, keyed: { ...current.keyed, index, revision: current.keyed.revision + 1 } };
}

/**
 * Adding an index to a project that holds records: the records written before it are
 * rewritten with their entries for the new field. It runs as a job of the project (listed
 * with the file jobs, `rowsRead` = records read, `recordsWritten` = records reindexed), so
 * its progress can be followed; each rewrite is a conditional merge like any write, so
 * concurrent pushes and files are never overwritten. New writes index themselves.
 */
export class IndexBackfill {
  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly owner: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates and claims the job; the returned promise of `done` settles when it has finished. */
  async start(project: ProjectItem, model: StoredModel): Promise<{ job: JobItem; done: Promise<void> }> {
    const at = new Date(this.now()).toISOString();
    const id = ulid();
    const job = objectlessJob(project, id, at, { name: BACKFILL_JOB_NAME, etag: `model-v${model.version}`, notice: `Indexes ${model.indexes.join(', ')} (model version ${model.version}).` });
    await this.control.createJob(job);
    const claimed = await this.control.claimJob(project.id, id, this.owner, LEASE_MS);
    const done = claimed ? this.run(project, claimed, model) : Promise.resolve();
    return { job: claimed ?? job, done };
  }

  /**
   * Takes up a backfill whose worker died (its lease expired): it starts again from the
   * first record with the project's current model. Rewriting is idempotent (a record whose
   * entries are already right is left alone), so a second pass over the records done
   * before the crash only reads them. False when another worker holds the job.
   */
  async resume(project: ProjectItem, job: JobItem): Promise<boolean> {
    if (project.model === undefined) return false;
    const claimed = await this.control.claimJob(project.id, job.id, this.owner, LEASE_MS);
    if (!claimed) return false;
    await this.run(project, claimed, project.model);
    return true;
  }

  private async run(project: ProjectItem, job: JobItem, model: StoredModel): Promise<void> {
    let read = 0;
    let rewritten = 0;
    const progress = () => ({
      format: null,
      bytesRead: 0,
      rowsRead: read,
      recordsWritten: rewritten,
      rowsRejected: 0,
      checkpointRow: read,
      errors: [],
      notices: job.notices,
    });
    try {
      let afterId: string | undefined;
      do {
        const page = await this.records.listRecords(project.tableName, { limit: PAGE, afterId });
        const ids = page.items.map((record) => record.id);
        await this.records.upsertRecords(project.tableName, ids, (_id, current) => reindexed(current, model));
        read += page.items.length;
        rewritten += page.items.filter((record) => reindexed(record, model) !== null).length;
        afterId = page.lastId;
        await this.control.checkpointJob(project.id, job.id, this.owner, LEASE_MS, progress());
      } while (afterId !== undefined);
      await this.control.finishJob(project.id, job.id, this.owner, { ...progress(), status: 'succeeded', objectKey: '' });
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 300) : 'backfill failed';
      await this.control
        .finishJob(project.id, job.id, this.owner, { ...progress(), status: 'failed', objectKey: '', failure: { code: 'backfill_failed', message } })
        .catch(() => undefined);
    }
  }
}
