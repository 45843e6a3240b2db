import { randomBytes } from 'node:crypto';
import { errors } from '../errors.js';
import type { ProjectItem } from './model.js';
import type { ProjectService } from './projects.service.js';
import type { IndexBackfill } from './index-backfill.js';
import { assignIndexSlots, parseRecordModel, type StoredModel } from './record-model.js';
import type { ControlStore, RecordStore } from '../storage/ports.js';

/** What a project without a model behaves as: records are appended, nothing is indexed. */
const NO_MODEL: StoredModel = { merge: 'merge', indexes: [], version: 0, updatedAt: '' };

export interface ModelChange {
  project: ProjectItem;
  previous: StoredModel;
  model: StoredModel;
  /** The job that indexes the records written before a new index, when there are any. */
  backfillJobId?: string;
}

/**
 * A project's record model: read, and replaced whole. A change is validated whole (every
 * problem listed), refused when the key would change under existing records (their ids
 * derive from the key), and written conditionally on the version it was based on, so of
 * two concurrent changes the second is refused rather than silently lost.
 */
export class RecordModelService {
  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly projects: ProjectService,
    private readonly backfill: IndexBackfill,
    private readonly now: () => number = Date.now,
  ) {}

  async get(projectId: string): Promise<StoredModel> {
    const project = await this.projects.fresh(projectId);
    return project.model ?? NO_MODEL;
  }

  /**
   * `body` is the whole model; a `version` in it must be the current one (a GET, edited,
   * PUT back), and `updatedAt` is the service's to set, so it is ignored.
   */
  async put(projectId: string, body: unknown): Promise<ModelChange> {
    const project = await this.projects.fresh(projectId);
    const previous = project.model ?? NO_MODEL;
    let expected: unknown;
    let document = body;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const { version, updatedAt: _ignored, ...rest } = body as Record<string, unknown>;
      expected = version;
      document = rest;
    }
    const parsed = parseRecordModel(document);
    if (expected !== undefined && expected !== previous.version) throw errors.modelVersionConflict(previous.version);
    const holdsRecords = await this.holdsRecords(project);
    if (JSON.stringify(parsed.key ?? null) !== JSON.stringify(previous.key ?? null) && holdsRecords) {
      throw errors.modelLocked();
    }
    const indexSlots = assignIndexSlots(parsed.indexes, previous.indexSlots);
    // Before anything is stored: a table that cannot serve indexes refuses the model whole.
    if (parsed.indexes.length > 0) await this.records.ensureIndexes(project.tableName);
    const model: StoredModel = {
      ...(parsed.key === undefined ? {} : { key: parsed.key }),
      merge: parsed.merge,
      indexes: parsed.indexes,
      ...(parsed.indexes.length === 0 ? {} : { indexSlots }),
      ...(parsed.rules.length === 0 ? {} : { rulesJson: JSON.stringify(parsed.rules) }),
      ...(parsed.schema === undefined ? {} : { schemaJson: JSON.stringify(parsed.schema) }),
      ...(parsed.onInvalid === 'reject' ? {} : { onInvalid: parsed.onInvalid }),
      ...(parsed.driftAlerts ? { driftAlerts: true } : {}),
      // One HMAC key per project for `hash` steps, made at the first save and kept ever after,
      // so a customer's pseudonym stays the same across model versions.
      hashSecret: previous.hashSecret ?? randomBytes(32).toString('base64'),
      version: previous.version + 1,
      updatedAt: new Date(this.now()).toISOString(),
    };
    const written = await this.control.setProjectModel(project.id, model, previous.version);
    this.projects.forget(project.id);
    if (!written) throw errors.modelVersionConflict(previous.version);
    const changed = { ...project, model };
    const fresh = parsed.indexes.some((field) => previous.indexSlots?.[field] !== indexSlots[field]);
    if (!fresh || !holdsRecords) return { project: changed, previous, model };
    const { job, done } = await this.backfill.start(changed, model);
    // The job records its own outcome; nothing waits on it here.
    void done.catch(() => undefined);
    return { project: changed, previous, model, backfillJobId: job.id };
  }

  private async holdsRecords(project: ProjectItem): Promise<boolean> {
    const page = await this.records.listRecords(project.tableName, { limit: 1 });
    return page.items.length > 0;
  }
}
