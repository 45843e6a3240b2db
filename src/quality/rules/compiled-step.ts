import { isLosslessNumber } from 'lossless-json';
import { isPlainRecord } from '../../domain/json-text.js';
import { getAt, scalarText, setAt, splitPath, type FieldPath } from './field-path.js';

/** The shape every compiled step shares, and the builders of the steps on one value or on strings. */

/** A step's answer: undefined (the record goes on), SKIP (filtered out), a rebuilt record or a failure. */
export const SKIP = Symbol('skip');

/**
 * The record a step built anew to take top-level fields out of it: deleting a key in
 * place turns a record into a slow dictionary object for every later step and for the
 * printing, where copying a dozen keys costs less. The next steps get the new record.
 */
export class Rebuilt {
  constructor(readonly record: Record<string, unknown>) {}
}

export type StepResult = undefined | typeof SKIP | Rebuilt | { field: string; message: string };
export type CompiledStep = (record: Record<string, unknown>) => StepResult;

export const fail = (field: string, message: string) => ({ field, message });
export const describe = (v: unknown) => (isLosslessNumber(v) ? v.value : JSON.stringify(v)).slice(0, 80);

/** A step on one scalar field: a missing or null field is left alone (`required` rejects those); `change` answering undefined keeps the value. */
export function valueStep(name: string, path: FieldPath, change: (text: string) => { value: unknown } | { error: string } | undefined): CompiledStep {
  return (r) => {
    const v = getAt(r, path);
    if (v === undefined || v === null) return undefined;
    const text = scalarText(v);
    if (text === undefined) return fail(name, 'must be a string, number or boolean, not an object or array');
    const out = change(text);
    if (out === undefined) return undefined;
    if ('error' in out) return fail(name, out.error);
    setAt(r, path, out.value);
    return undefined;
  };
}

/**
 * Changes every string inside objects and arrays in place. Only a string that changed is
 * written back (most values of a clean row are left alone, and writing them back cost more
 * than the trimming), and objects are never reassigned, so a `__proto__` key stays data.
 */
function changeStrings(container: Record<string, unknown> | unknown[], change: (s: string) => string): void {
  const keys = Array.isArray(container) ? undefined : Object.keys(container);
  const n = keys === undefined ? (container as unknown[]).length : keys.length;
  for (let i = 0; i < n; i++) {
    const key = keys === undefined ? i : keys[i]!;
    const value = (container as Record<string | number, unknown>)[key];
    if (typeof value === 'string') {
      const changed = change(value);
      if (changed !== value) Object.defineProperty(container, key, { value: changed, enumerable: true, writable: true, configurable: true });
    } else if (Array.isArray(value) || isPlainRecord(value)) {
      changeStrings(value, change);
    }
  }
}

export function stringStep(fields: '*' | string[], change: (s: string) => string): CompiledStep {
  if (fields === '*') return (r) => { changeStrings(r, change); return undefined; };
  const paths = fields.map(splitPath);
  return (r) => {
    for (const p of paths) {
      const v = getAt(r, p);
      if (typeof v === 'string') setAt(r, p, change(v));
    }
    return undefined;
  };
}
