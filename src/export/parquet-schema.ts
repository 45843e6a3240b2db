import { isLosslessNumber, isSafeNumber } from 'lossless-json';
import type { ProjectItem, StoredRecord } from '../domain/model.js';
import { isPlainRecord, toJsonText } from '../domain/json-text.js';
import { isKeyed, modelRules } from '../domain/record-model.js';
import type { CatalogField } from '../quality/catalog/field-catalog.js';
import { parseData } from './export-rows.js';

/**
 * Parquet column kinds. Numbers are DOUBLE: what DuckDB, pandas and Athena sum and average
 * without a cast. A number a double cannot hold exactly (past 2^53, or more than 15
 * significant digits) is rounded to the nearest double and counted in the manifest
 * (`roundedNumbers`); NDJSON and CSV keep its every digit. Objects, arrays and fields whose
 * values mix types are JSON text, as are the record's key and source.
 */
export type ParquetKind = 'string' | 'double' | 'boolean' | 'int64' | 'date' | 'timestamp' | 'json';

export interface ParquetColumn {
  /** Column name: the envelope's name, or the data path joined with dots (`data.` prefixed on a clash). */
  name: string;
  kind: ParquetKind;
  /** Data path; absent for the record envelope's columns. */
  path?: string[];
}

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

// Sixteen or more digits (a dot allowed between them): only such a number can lose digits
// in JSON.parse, so only such a record pays for the exact (and slower) parser.
const LONG_NUMBER = /\d(?:\.?\d){15}/;

/** The record's data, parsed natively unless it may hold a number a double cannot keep. */
export function fastData(record: StoredRecord): Record<string, unknown> {
  if (LONG_NUMBER.test(record.data)) return parseData(record);
  const value: unknown = JSON.parse(record.data);
  return isPlainRecord(value) ? value : {};
}

export function valueAt(data: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = data;
  for (const segment of path) {
    if (!isPlainRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/** Tallies what a part's conversion could not keep exactly, for the manifest. */
export interface ConversionCounts {
  roundedNumbers: number;
  /** Values whose type did not match their column's (written as null, or as JSON text in a string column). */
  unconverted: number;
}

const DAY_MS = 86_400_000;

/** One value for its column, as hyparquet-writer takes it (null when missing). */
export function columnValue(kind: ParquetKind, value: unknown, counts: ConversionCounts): unknown {
  if (value === undefined || value === null) return null;
  switch (kind) {
    case 'json':
      return value instanceof JsonText ? value.text : toJsonText(value);
    case 'string':
      if (typeof value === 'string') return value;
      counts.unconverted++;
      return toJsonText(value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'double':
      if (typeof value === 'number') return value;
      if (isLosslessNumber(value)) {
        if (!isSafeNumber(value.value)) counts.roundedNumbers++;
        return Number(value.value);
      }
      break;
    case 'int64':
      if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
      break;
    case 'date':
    case 'timestamp': {
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!Number.isNaN(ms)) return new Date(kind === 'date' ? Math.floor(ms / DAY_MS) * DAY_MS : ms);
      break;
    }
  }
  counts.unconverted++;
  return null;
}

/** JSON text stored as such (a record's key and source): written as it is, never parsed. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** The value of an envelope column of a record. */
export function envelopeValue(record: StoredRecord, name: string): unknown {
  switch (name) {
    case 'id':
      return record.id;
    case 'key':
      return record.keyed === undefined ? null : new JsonText(record.keyed.key);
    case 'version':
      return record.keyed?.version ?? null;
    case 'createdAt':
      return record.keyed?.createdAt ?? null;
    case 'source':
      return new JsonText(record.source);
    default:
      // updatedAt (keyed) and ingestedAt (appended) are both the last write's time.
      return record.ingestedAt;
  }
}

/** hyparquet-writer's schema elements for the columns (all nullable). */
export function schemaElements(columns: readonly ParquetColumn[]) {
  const element = (column: ParquetColumn) => {
    const base = { name: column.name, repetition_type: 'OPTIONAL' as const };
    switch (column.kind) {
      case 'double':
        return { ...base, type: 'DOUBLE' as const };
      case 'boolean':
        return { ...base, type: 'BOOLEAN' as const };
      case 'int64':
        return { ...base, type: 'INT64' as const };
      case 'date':
        return { ...base, type: 'INT32' as const, converted_type: 'DATE' as const };
      case 'timestamp':
        return { ...base, type: 'INT64' as const, converted_type: 'TIMESTAMP_MILLIS' as const };
      default:
        // JSON text stays plain UTF8 so that every reader opens it as a string column.
        return { ...base, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const };
    }
  };
  return [{ name: 'root', num_children: columns.length }, ...columns.map(element)];
}
