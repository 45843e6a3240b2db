import { isLosslessNumber } from 'lossless-json';
import type { StoredRecord } from '../domain/model.js';
import { isPlainRecord, parseStoredJson, toJsonText } from '../domain/json-text.js';
import { recordJson } from '../http/views/record.view.js';

/** Characters that make a spreadsheet read a cell as a formula (OWASP's list). */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r']);

/**
 * A stored record's data, numbers exact. Stored data was checked on its way in (depth, no
 * repeated key), so data without a number in it is read by JSON.parse alone, without the
 * scans of the exact path: a CSV export reads every record twice (header, rows).
 */
export function parseData(record: StoredRecord): Record<string, unknown> {
  const value: unknown = parseStoredJson(record.data);
  return isPlainRecord(value) ? value : {};
}

/** The value at a path of nested objects; undefined where the path leaves them. */
export function valueAt(data: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = data;
  for (const segment of path) {
    if (!isPlainRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/**
 * The data narrowed to the chosen paths, nested again (`b.c` → `{"b":{"c":...}}`); a path
 * the record lacks is left out rather than written as null, so types stay as they were.
 */
export function projectData(data: Record<string, unknown>, fields: readonly string[][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of fields) {
    const value = valueAt(data, path);
    if (value === undefined) continue;
    let target = out;
    for (const segment of path.slice(0, -1)) {
      if (!isPlainRecord(target[segment])) target[segment] = {};
      target = target[segment] as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
  }
  return out;
}

/** One NDJSON/JSON row: the record as the records view writes it, data narrowed by `fields`. */
export function jsonRow(record: StoredRecord, fields: readonly string[][] | undefined): string {
  if (fields === undefined) return recordJson(record);
  return recordJson({ ...record, data: toJsonText(projectData(parseData(record), fields)) });
}

/**
 * Paths of a record's leaves, in the record's order; arrays and empty objects are leaves.
 * Keyed by the path's segments joined with NUL, so a key that holds a dot stays one segment.
 */
export function leafPaths(data: Record<string, unknown>, prefix: readonly string[], into: Map<string, string[]>): void {
  for (const key of Object.keys(data)) {
    const value = data[key];
    const path = [...prefix, key];
    if (isPlainRecord(value) && Object.keys(value).length > 0) leafPaths(value, path, into);
    else {
      const id = path.join('\u0000');
      if (!into.has(id)) into.set(id, path);
    }
  }
}

/**
 * A CSV cell: strings as they are (neutralized unless raw), numbers as written (every
 * digit), booleans as true/false, null and missing as empty, arrays and objects as JSON.
 * Numbers and booleans are never formulas, so only strings are prefixed with `'`.
 */
export function cellText(value: unknown, raw: boolean): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return !raw && value.length > 0 && FORMULA_START.has(value[0]!) ? `'${value}` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isLosslessNumber(value)) return value.toString();
  return toJsonText(value);
}

/** Meta columns first (as in the records view), then data columns. */
export interface CsvColumns {
  meta: readonly ('id' | 'key' | 'version' | 'updatedAt')[];
  /** Header names of the data columns (`data.`-prefixed where they would clash with a meta column). */
  names: readonly string[];
  paths: readonly string[][];
}

export function csvColumns(keyed: boolean, dataPaths: readonly string[][]): CsvColumns {
  const meta = keyed ? (['id', 'key', 'version', 'updatedAt'] as const) : (['id', 'updatedAt'] as const);
  const taken = new Set<string>(meta);
  const names = dataPaths.map((path) => {
    const name = path.join('.');
    return taken.has(name) ? `data.${name}` : name;
  });
  return { meta, names, paths: dataPaths.map((path) => [...path]) };
}

export function csvHeader(columns: CsvColumns): string[] {
  return [...columns.meta, ...columns.names];
}

export function csvRow(record: StoredRecord, columns: CsvColumns, raw: boolean): string[] {
  const data = parseData(record);
  const row: string[] = [];
  for (const column of columns.meta) {
    if (column === 'id') row.push(record.id);
    else if (column === 'updatedAt') row.push(record.ingestedAt);
    else if (column === 'version') row.push(String(record.keyed?.version ?? ''));
    else row.push(record.keyed?.key ?? '');
  }
  for (const path of columns.paths) row.push(cellText(valueAt(data, path), raw));
  return row;
}
