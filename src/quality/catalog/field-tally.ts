import { isLosslessNumber } from 'lossless-json';
import { parseStoredJson } from '../../domain/json-text.js';
import { modelRules, type StoredModel } from '../../domain/record-model.js';
import type { FieldObservation, FieldType } from './field-catalog.js';

/** Distinct paths one tally keeps; records with many generated keys (maps by id) stop adding paths past it. */
export const MAX_TALLY_PATHS = 1000;
/** Nesting walked into: deeper objects are counted as objects, their insides not listed. */
const MAX_WALK_DEPTH = 12;
const MAX_PATH_LENGTH = 512;
const MAX_EXAMPLE_CHARS = 200;

/**
 * Counts the fields of records in memory, between catalog writes: a batch (or a push) of
 * records, already cleaned, makes one observation per path, and the catalog is written
 * once per tally, never per record.
 */
export class FieldTally {
  private readonly fields = new Map<string, FieldObservation>();
  private records = 0;

  /** `hashed`: the dot paths the model's `hash` steps write, whose values are never shown. */
  constructor(private readonly hashed: readonly string[] = []) {}

  get recordCount(): number {
    return this.records;
  }

  get isEmpty(): boolean {
    return this.records === 0;
  }

  /**
   * A stored record's data, as its JSON text: checked on its way in (depth, no repeated
   * key), so read as stored data is, by JSON.parse when it holds no number.
   */
  addText(data: string): void {
    this.add(parseStoredJson(data));
  }

  /** A record's value (numbers may be LosslessNumbers); anything but an object is ignored. */
  add(record: unknown): void {
    if (!isObject(record)) return;
    this.records++;
    this.walk(record, '', 0);
  }

  /** The observations so far, and an empty tally again. */
  take(): FieldObservation[] {
    const out = [...this.fields.values()];
    this.fields.clear();
    this.records = 0;
    return out;
  }

  private walk(object: Record<string, unknown>, prefix: string, depth: number): void {
    for (const key of Object.keys(object)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (path.length > MAX_PATH_LENGTH) continue;
      const value = object[key];
      const type = typeOf(value);
      this.observe(path, type, value);
      if (type === 'object' && depth + 1 < MAX_WALK_DEPTH) this.walk(value as Record<string, unknown>, path, depth + 1);
    }
  }

  private observe(path: string, type: FieldType, value: unknown): void {
    let field = this.fields.get(path);
    if (field === undefined) {
      if (this.fields.size >= MAX_TALLY_PATHS) return;
      field = { path, types: {} };
      if (this.isHashed(path)) field.redacted = true;
      this.fields.set(path, field);
    }
    field.types[type] = (field.types[type] ?? 0) + 1;
    if (field.example === undefined && field.redacted !== true && type !== 'object' && type !== 'array') {
      field.example = exampleOf(value, type);
    }
  }

  private isHashed(path: string): boolean {
    return this.hashed.some((field) => path === field || path.startsWith(`${field}.`));
  }
}

/** The tally for a project's model: its `hash` steps' fields are redacted. */
export function fieldTallyFor(model: Pick<StoredModel, 'rulesJson'> | undefined): FieldTally {
  const hashed = model === undefined ? [] : modelRules(model).flatMap((step) => (step.op === 'hash' ? step.fields : []));
  return new FieldTally(hashed);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

function typeOf(value: unknown): FieldType {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' || typeof value === 'bigint' || isLosslessNumber(value)) return 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'object';
}

function exampleOf(value: unknown, type: FieldType): string {
  if (type === 'number') return String(value);
  if (type === 'string') return JSON.stringify((value as string).slice(0, MAX_EXAMPLE_CHARS));
  return JSON.stringify(value ?? null);
}
