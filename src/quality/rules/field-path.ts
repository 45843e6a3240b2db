import { isLosslessNumber } from 'lossless-json';
import { isPlainRecord } from '../../domain/json-text.js';

/**
 * Dot paths into a record (`address.country`), split once when the rules are compiled.
 * Keys are read as own properties and written with defineProperty, so a record's
 * `__proto__` key stays data and never reaches a prototype.
 */
export type FieldPath = readonly string[];

export const splitPath = (path: string): FieldPath => path.split('.');

const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function define(o: Record<string, unknown>, key: string, value: unknown): void {
  // Only `__proto__` is an accessor on Object.prototype: any other key assigned makes (or
  // sets) an own data property, several times cheaper than defineProperty on every row.
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** The value at a path, or undefined when some segment is missing. */
export function getAt(record: Record<string, unknown>, path: FieldPath): unknown {
  let at: unknown = record;
  for (const segment of path) {
    if (!isPlainRecord(at) || !own(at, segment)) return undefined;
    at = at[segment];
  }
  return at;
}

export function hasAt(record: Record<string, unknown>, path: FieldPath): boolean {
  let at: unknown = record;
  for (const segment of path) {
    if (!isPlainRecord(at) || !own(at, segment)) return false;
    at = at[segment];
  }
  return true;
}

/**
 * Sets the value at a path, creating objects on the way. False when a segment on the way
 * holds a scalar or an array (the caller reports it; nothing is overwritten).
 */
export function setAt(record: Record<string, unknown>, path: FieldPath, value: unknown): boolean {
  let at: Record<string, unknown> = record;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = path[i]!;
    if (!own(at, segment) || at[segment] === undefined) define(at, segment, {});
    const next = at[segment];
    if (!isPlainRecord(next)) return false;
    at = next;
  }
  define(at, path[path.length - 1]!, value);
  return true;
}

export function deleteAt(record: Record<string, unknown>, path: FieldPath): void {
  let at: unknown = record;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isPlainRecord(at) || !own(at, path[i]!)) return;
    at = at[path[i]!];
  }
  if (isPlainRecord(at)) delete at[path[path.length - 1]!];
}

/** A scalar as text (numbers exactly as written), or undefined for objects, arrays and null. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isLosslessNumber(value)) return value.value;
  return undefined;
}

/**
 * A copy of a record without some of its top-level keys, the others in their order: used
 * instead of `delete`, which turns the record into a slow dictionary object for every
 * later step and for the printing. Nested values are shared, not copied.
 */
export function withoutKeys(record: Record<string, unknown>, removed: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (!removed.has(key)) define(out, key, record[key]);
  return out;
}

/** Whether a record holds a top-level key as its own. */
export const hasOwnKey = (record: Record<string, unknown>, key: string): boolean => own(record, key);
