import { changeOf, FIELD_TYPES, totalOf, type CatalogField, type FieldBatch, type FieldChange, type TypeCounts } from '../../quality/catalog/field-catalog.js';
import type { FieldCatalogStore, Page } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';

/** One count column per JSON type, so a merge is an UPSERT that adds. */
const TYPE_COLUMNS = FIELD_TYPES.map((type) => `n_${type}`);
const READ_COUNTS = `SELECT ${TYPE_COLUMNS.join(', ')} FROM field_catalog WHERE project_id = ? AND path = ?`;
/** Adds a batch's counts to a field's, keeping its first and last sighting. */
const MERGE_FIELD = `INSERT INTO field_catalog (project_id, path, ${TYPE_COLUMNS.join(', ')}, first_seen, last_seen, example, redacted)
  VALUES (?, ?, ${TYPE_COLUMNS.map(() => '?').join(', ')}, ?, ?, ?, ?)
  ON CONFLICT (project_id, path) DO UPDATE SET
    ${TYPE_COLUMNS.map((column) => `${column} = ${column} + excluded.${column}`).join(', ')},
    first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
    example = CASE WHEN excluded.redacted = 1 THEN NULL ELSE coalesce(example, excluded.example) END,
    redacted = excluded.redacted`;

interface FieldRow {
  path: string;
  first_seen: string;
  last_seen: string;
  example: string | null;
  redacted: number;
  [column: string]: string | number | null;
}

/**
 * Field catalogs in the embedded database: one table for every project, keyed by (project,
 * path). A batch is merged in one transaction: each field is read (for drift), then
 * upserted with its counts added, so concurrent jobs never lose a count.
 */
export class SqliteFieldCatalogStore implements FieldCatalogStore {
  constructor(private readonly database: SqliteDatabase) {
    database.guard(() =>
      database.db.exec(`
        CREATE TABLE IF NOT EXISTS field_catalog (
          project_id TEXT NOT NULL, path TEXT NOT NULL,
          ${TYPE_COLUMNS.map((column) => `${column} INTEGER NOT NULL DEFAULT 0`).join(', ')},
          first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, example TEXT, redacted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (project_id, path));
      `),
    );
  }

  async mergeFields(projectId: string, batch: FieldBatch): Promise<FieldChange[]> {
    if (batch.fields.length === 0) return [];
    const read = this.database.statement(READ_COUNTS);
    const upsert = this.database.statement(MERGE_FIELD);
    return this.database.transaction(() => {
      const changes: FieldChange[] = [];
      for (const field of batch.fields) {
        const known = read.get(projectId, field.path) as Record<string, number> | undefined;
        const change = changeOf(field, known === undefined ? undefined : countsOf(known));
        if (change !== undefined) changes.push(change);
        upsert.run(
          projectId,
          field.path,
          ...FIELD_TYPES.map((type) => field.types[type] ?? 0),
          batch.at,
          batch.at,
          field.redacted === true ? null : (field.example ?? null),
          field.redacted === true ? 1 : 0,
        );
      }
      return changes;
    });
  }

  async listFields(projectId: string, options: { limit: number; after?: string }): Promise<Page<CatalogField>> {
    const rows = this.database.guard(
      () =>
        this.database
          // `>=` from the start: a record's empty key makes the path "".
          .statement(`SELECT * FROM field_catalog WHERE project_id = ? AND path ${options.after === undefined ? '>=' : '>'} ? ORDER BY path LIMIT ?`)
          .all(projectId, options.after ?? '', options.limit + 1) as FieldRow[],
    );
    const items = rows.slice(0, options.limit).map(fieldOf);
    return rows.length > options.limit ? { items, next: items[items.length - 1]!.path } : { items };
  }

  async deleteFields(projectId: string): Promise<void> {
    this.database.guard(() => this.database.statement('DELETE FROM field_catalog WHERE project_id = ?').run(projectId));
  }
}

function countsOf(row: Record<string, unknown>): TypeCounts {
  const types: TypeCounts = {};
  for (const type of FIELD_TYPES) {
    const n = Number(row[`n_${type}`] ?? 0);
    if (n > 0) types[type] = n;
  }
  return types;
}

function fieldOf(row: FieldRow): CatalogField {
  const types = countsOf(row);
  return {
    path: row.path,
    types,
    count: totalOf(types),
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    ...(row.example === null ? {} : { example: row.example }),
    ...(row.redacted === 1 ? { redacted: true } : {}),
  };
}
