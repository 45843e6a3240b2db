import { isLosslessNumber } from 'lossless-json';
import type { ProjectItem, StoredRecord } from '../domain/model.js';
import { isKeyed, modelRules } from '../domain/record-model.js';
import type { CatalogField } from '../quality/catalog/field-catalog.js';
import { valueAt } from './export-rows.js';
import { fastData, type ParquetColumn, type ParquetKind } from './parquet-values.js';

/** A field's JSON types as a first pass or the field catalog saw them. */
export interface SeenField {
  path: string[];
  types: Set<string>;
}

const ENVELOPE_KEYED: ParquetColumn[] = [
  { name: 'id', kind: 'string' },
  { name: 'key', kind: 'json' },
  { name: 'version', kind: 'int64' },
  { name: 'createdAt', kind: 'timestamp' },
  { name: 'updatedAt', kind: 'timestamp' },
  { name: 'source', kind: 'json' },
];
const ENVELOPE_APPENDED: ParquetColumn[] = [
  { name: 'id', kind: 'string' },
  { name: 'ingestedAt', kind: 'timestamp' },
  { name: 'source', kind: 'json' },
];

/** Fields the record model casts to a date or a datetime, by dot path. */
function castDates(project: ProjectItem): Map<string, 'date' | 'timestamp'> {
  const out = new Map<string, 'date' | 'timestamp'>();
  if (project.model === undefined) return out;
  for (const step of modelRules(project.model)) {
    if (step.op === 'cast' && (step.to === 'date' || step.to === 'datetime')) out.set(step.field, step.to === 'date' ? 'date' : 'timestamp');
    // A later cast of the same field to something else wins.
    else if (step.op === 'cast') out.delete(step.field);
  }
  return out;
}

function kindOf(types: Set<string>, cast: 'date' | 'timestamp' | undefined): ParquetKind {
  const scalar = [...types].filter((type) => type !== 'null');
  if (scalar.length === 1 && scalar[0] === 'string') return cast ?? 'string';
  if (scalar.length === 1 && scalar[0] === 'number') return 'double';
  if (scalar.length === 1 && scalar[0] === 'boolean') return 'boolean';
  // Objects, arrays, mixed types, and fields only ever null.
  return scalar.length === 0 ? 'string' : 'json';
}

/** The envelope's columns, then the data's (in the order seen), named as CSV names them. */
export function parquetColumns(project: ProjectItem, fields: readonly SeenField[]): ParquetColumn[] {
  const envelope = isKeyed(project.model) ? ENVELOPE_KEYED : ENVELOPE_APPENDED;
  const taken = new Set(envelope.map((column) => column.name));
  const casts = castDates(project);
  const data = fields.map(({ path, types }): ParquetColumn => {
    const joined = path.join('.');
    return { name: taken.has(joined) ? `data.${joined}` : joined, kind: kindOf(types, casts.get(joined)), path: [...path] };
  });
  return [...envelope, ...data];
}

/** Top-level fields (or the chosen paths) with their types, from the field catalog's fields. */
export function fieldsFromCatalog(catalog: readonly CatalogField[], chosen: readonly string[][] | undefined): SeenField[] {
  const byPath = new Map(catalog.map((field) => [field.path, field]));
  const wanted = chosen ?? catalog.filter((field) => !field.path.includes('.')).map((field) => [field.path]);
  return wanted.map((path) => {
    const field = byPath.get(path.join('.'));
    const types = new Set(Object.entries(field?.types ?? {}).filter(([, count]) => (count ?? 0) > 0).map(([type]) => type));
    return { path: [...path], types };
  });
}

/** The JSON type of a value as the catalog names it. */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' || isLosslessNumber(value)) return 'number';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

/** A first pass's tally: top-level fields (or the chosen paths) and their types. */
export class FieldSeer {
  private readonly seen = new Map<string, SeenField>();

  constructor(private readonly chosen: readonly string[][] | undefined) {
    for (const path of chosen ?? []) this.seen.set(path.join('\u0000'), { path: [...path], types: new Set() });
  }

  add(record: StoredRecord): void {
    const data = fastData(record);
    if (this.chosen !== undefined) {
      for (const path of this.chosen) {
        const value = valueAt(data, path);
        if (value !== undefined) this.seen.get(path.join('\u0000'))!.types.add(typeOf(value));
      }
      return;
    }
    for (const key of Object.keys(data)) {
      let field = this.seen.get(key);
      if (field === undefined) this.seen.set(key, (field = { path: [key], types: new Set() }));
      field.types.add(typeOf(data[key]));
    }
  }

  fields(): SeenField[] {
    return [...this.seen.values()];
  }
}
