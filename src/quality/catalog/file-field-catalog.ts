import type { JobItem, ProjectItem, StoredRecord } from '../../domain/model.js';
import type { FieldCatalogStore } from '../../storage/ports.js';
import type { FieldChange, FieldType } from './field-catalog.js';
import { fieldTallyFor, type FieldTally } from './field-tally.js';

/**
 * Records a file job counts before merging them into the catalog: one merge (one UpdateItem
 * per field in DynamoDB) per this many records, never one per record or per 25-record write.
 */
export const CATALOG_FLUSH_RECORDS = 2000;
/** Drifted fields a job lists of each kind; further ones are left off the job (the catalog still has them). */
export const MAX_DRIFT_FIELDS = 100;

export interface FieldTypeChange {
  field: string;
  /** Types the catalog knew the field with before this job. */
  knownTypes: FieldType[];
  /** Types this job brought. */
  newTypes: FieldType[];
}

/** What a job reports about drift: fields the catalog did not know, and known fields with a new type. */
export type JobDrift = Pick<JobItem, 'newFields' | 'typeChanges'>;

/**
 * A file job's side of the field catalog: the stored records of each batch are tallied in
 * memory and merged every CATALOG_FLUSH_RECORDS records and at the end of the pass; what a
 * merge says was new becomes the job's drift, each field once per job whatever the rows.
 * A resumed pass starts from the drift the job saved, so a field is reported once.
 */
export class FileFieldCatalog {
  private readonly tally: FieldTally;
  private readonly newFields: string[];
  private readonly typeChanges: Map<string, FieldTypeChange>;

  constructor(
    private readonly store: FieldCatalogStore,
    private readonly project: Pick<ProjectItem, 'id' | 'model'>,
    job: JobDrift,
    private readonly now: () => number = Date.now,
  ) {
    this.tally = fieldTallyFor(project.model);
    this.newFields = [...(job.newFields ?? [])];
    this.typeChanges = new Map((job.typeChanges ?? []).map((change) => [change.field, { ...change } as FieldTypeChange]));
  }

  /**
   * Counts a batch's records (their data as stored: cleaned, before any merge with a
   * customer's record). `values[i]`, when given, is record i's data already as an object
   * (the cleaning rules' output, which the data is the printing of): counted as it is.
   */
  addBatch(records: readonly StoredRecord[], values?: readonly (Record<string, unknown> | undefined)[]): void {
    for (let i = 0; i < records.length; i++) {
      const value = values?.[i];
      if (value !== undefined) this.tally.add(value);
      else this.tally.addText(records[i]!.data);
    }
  }

  get due(): boolean {
    return this.tally.recordCount >= CATALOG_FLUSH_RECORDS;
  }

  async flush(): Promise<void> {
    if (this.tally.isEmpty) return;
    const changes = await this.store.mergeFields(this.project.id, { fields: this.tally.take(), at: new Date(this.now()).toISOString() });
    this.note(changes);
  }

  /** The job's drift so far, for its progress and outcome (absent when there is none). */
  drift(): JobDrift {
    return driftView(this.newFields, this.typeChanges);
  }

  private note(changes: readonly FieldChange[]): void {
    noteChanges(this.newFields, this.typeChanges, changes);
  }
}

/**
 * The drift of one merge on its own: a push's records are merged in one go, so what the
 * merge reports new is the push's drift (another writer that merged the field first
 * reports it instead: each field is reported once, by whoever brought it first).
 */
export function driftOf(changes: readonly FieldChange[]): JobDrift {
  const newFields: string[] = [];
  const typeChanges = new Map<string, FieldTypeChange>();
  noteChanges(newFields, typeChanges, changes);
  return driftView(newFields, typeChanges);
}

function driftView(newFields: readonly string[], typeChanges: ReadonlyMap<string, FieldTypeChange>): JobDrift {
  return {
    // In path order: merges run side by side, so the order they answer in means nothing.
    ...(newFields.length === 0 ? {} : { newFields: [...newFields].sort() }),
    ...(typeChanges.size === 0
      ? {}
      : { typeChanges: [...typeChanges.values()].map((c) => ({ ...c, newTypes: [...c.newTypes] })).sort((a, b) => (a.field < b.field ? -1 : 1)) }),
  };
}

function noteChanges(newFields: string[], typeChanges: Map<string, FieldTypeChange>, changes: readonly FieldChange[]): void {
  for (const change of changes) {
    if (change.knownTypes.length === 0) {
      // A field another task added a moment earlier is not new to this job's eyes twice.
      if (!newFields.includes(change.path) && newFields.length < MAX_DRIFT_FIELDS) newFields.push(change.path);
      continue;
    }
    // A field this job introduced does not change type in its own eyes: its types are all new.
    if (newFields.includes(change.path)) continue;
    const known = typeChanges.get(change.path);
    if (known !== undefined) {
      for (const type of change.newTypes) if (!known.newTypes.includes(type)) known.newTypes.push(type);
    } else if (typeChanges.size < MAX_DRIFT_FIELDS) {
      typeChanges.set(change.path, { field: change.path, knownTypes: change.knownTypes, newTypes: [...change.newTypes] });
    }
  }
}
