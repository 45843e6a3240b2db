import type { ProjectItem } from '../../domain/model.js';
import type { FieldCatalogStore, Page } from '../../storage/ports.js';
import type { CatalogField, FieldChange } from './field-catalog.js';
import type { FieldTally } from './field-tally.js';

/**
 * A project's field catalog: what every write path has stored, field by field. Writers
 * hand over a tally of many records at once, so the catalog costs one merge per batch,
 * never a write per record.
 */
export class FieldCatalogService {
  constructor(
    private readonly store: FieldCatalogStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Merges and empties the tally; the fields that were new to the catalog or brought a new type. */
  async record(project: Pick<ProjectItem, 'id'>, tally: FieldTally): Promise<FieldChange[]> {
    if (tally.isEmpty) return [];
    const fields = tally.take();
    return this.store.mergeFields(project.id, { fields, at: new Date(this.now()).toISOString() });
  }

  async list(project: ProjectItem, page: { limit: number; after?: string }): Promise<Page<CatalogField>> {
    return this.store.listFields(project.id, page);
  }
}
