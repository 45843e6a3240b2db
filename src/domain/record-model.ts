import { isLosslessNumber } from 'lossless-json';
import { z } from 'zod';
import { errors } from '../errors.js';
import { deterministicId } from './ids.js';
import { isPlainRecord } from './json-text.js';
import { checkCompiledRules } from '../quality/rules/compile-rules.js';
import { MAX_RULES, parseRuleSteps, type RuleStep } from '../quality/rules/rule-schema.js';
import { schemaProblem } from '../quality/schema-contract.js';

/**
 * A project's record model: the customer key (with its normalizers), the merge policy and
 * the indexed fields, and the data-quality part: cleaning `rules`, a JSON `schema` and
 * `onInvalid` (see quality/). One document per project, versioned.
 */

export const NORMALIZERS = ['trim', 'lowercase', 'nfc', 'digits'] as const;
export type Normalizer = (typeof NORMALIZERS)[number];
export const MERGE_POLICIES = ['merge', 'replace', 'first'] as const;
export type MergePolicy = (typeof MERGE_POLICIES)[number];

export const MAX_KEY_FIELDS = 4;
export const MAX_INDEXES = 10;
/** A normalized key longer than this (UTF-8) is `invalid_key`: ids and lookups stay small. */
export const MAX_KEY_BYTES = 1024;
/**
 * Index values longer than this are not indexed: DynamoDB limits a sort key to 1024 bytes
 * and the index sort key carries the value and the record id.
 */
export const MAX_INDEX_VALUE_BYTES = 900;
const MAX_PATH_LENGTH = 200;

/** A dot path into the record: `email`, `address.country`; no empty segment, so no `..`. */
const fieldPath = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_PATH_LENGTH, `must be at most ${MAX_PATH_LENGTH} characters`)
  .refine((p) => p.split('.').every((segment) => segment.length > 0), 'must be a dot path without empty segments (no "..", no leading or trailing dot)');

const unique = (list: string[]) => new Set(list).size === list.length;

export const modelKeySchema = z.strictObject({
  fields: z
    .array(fieldPath)
    .min(1, 'a key needs at least one field')
    .max(MAX_KEY_FIELDS, `a key has at most ${MAX_KEY_FIELDS} fields`)
    .refine(unique, 'must not repeat a field'),
  normalize: z.record(z.string(), z.array(z.enum(NORMALIZERS)).max(8)).optional(),
});
export type ModelKey = z.infer<typeof modelKeySchema>;

export const recordModelSchema = z
  .strictObject({
    key: modelKeySchema.optional(),
    merge: z.enum(MERGE_POLICIES).default('merge'),
    indexes: z
      .array(fieldPath)
      .max(MAX_INDEXES, `at most ${MAX_INDEXES} indexes`)
      .refine(unique, 'must not repeat a field')
      .default([]),
    /** Cleaning steps, checked step by step below (every problem listed with its step index). */
    rules: z.array(z.unknown()).max(MAX_RULES, `at most ${MAX_RULES} rules`).default([]),
    /** JSON Schema 2020-12 the cleaned record must match. */
    schema: z.record(z.string(), z.unknown()).optional(),
    onInvalid: z.enum(['reject', 'quarantine']).default('reject'),
    /** Send the webhook alert when a file job finds fields new to the field catalog or with a new type. */
    driftAlerts: z.boolean().default(false),
  })
  .superRefine((model, ctx) => {
    const { steps, problems } = parseRuleSteps(model.rules);
    const all = problems.length === 0 ? checkCompiledRules(steps) : problems;
    for (const problem of all) {
      const op = (model.rules[problem.step] as { op?: unknown } | null)?.op;
      ctx.addIssue({
        code: 'custom',
        path: ['rules', problem.step, ...(problem.path === '' ? [] : problem.path.split('.'))],
        message: `step ${problem.step}${typeof op === 'string' ? ` (${op})` : ''}: ${problem.message}`,
      });
    }
    if (model.schema !== undefined) {
      const problem = schemaProblem(model.schema);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['schema'], message: problem });
    }
    for (const field of Object.keys(model.key?.normalize ?? {})) {
      if (!model.key!.fields.includes(field)) {
        ctx.addIssue({ code: 'custom', path: ['key', 'normalize', field], message: 'normalizes a field that is not a key field' });
      }
    }
    if (model.indexes.length > 0 && model.key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['indexes'], message: 'indexes need a customer key: declare key.fields too' });
    }
  });
export type RecordModel = Omit<z.infer<typeof recordModelSchema>, 'rules'> & { rules: RuleStep[] };

/** The model as a project stores it: the document plus its version and time of change. */
/** A declared index's value on one record. */
export interface IndexEntry {
  field: string;
  /** Which of the table's index slots holds the field (stable while the field stays indexed). */
  slot: number;
  value: string;
}

export const storedModelSchema = z.object({
  key: modelKeySchema.optional(),
  merge: z.enum(MERGE_POLICIES),
  indexes: z.array(z.string()),
  /** Index slot per indexed field (see assignIndexSlots). */
  indexSlots: z.record(z.string(), z.number().int()).optional(),
  /**
   * Cleaning steps as validated at save (see quality/rules), and the schema, as JSON text:
   * a declared value may hold any key, the empty one included, which DynamoDB refuses as a
   * map attribute name. Read them with modelRules and modelSchema.
   */
  rulesJson: z.string().optional(),
  schemaJson: z.string().optional(),
  onInvalid: z.enum(['reject', 'quarantine']).optional(),
  driftAlerts: z.boolean().optional(),
  /** The project's HMAC key for `hash` steps (base64); kept with the model, never shown by the API. */
  hashSecret: z.string().optional(),
  version: z.number().int(),
  updatedAt: z.string(),
});
export type StoredModel = z.infer<typeof storedModelSchema>;

/** A keyed model: what the upsert path needs. */
export type KeyedModel = StoredModel & { key: ModelKey };
export const isKeyed = (model: StoredModel | undefined): model is KeyedModel => model?.key !== undefined;

export const modelRules = (model: Pick<StoredModel, 'rulesJson'>): RuleStep[] =>
  model.rulesJson === undefined ? [] : (JSON.parse(model.rulesJson) as RuleStep[]);

export const modelSchema = (model: Pick<StoredModel, 'schemaJson'>): Record<string, unknown> | undefined =>
  model.schemaJson === undefined ? undefined : (JSON.parse(model.schemaJson) as Record<string, unknown>);

/** Validates a whole model document; 400 validation_failed lists every problem at once. */
export function parseRecordModel(input: unknown): RecordModel {
  const parsed = recordModelSchema.safeParse(input);
  // The superRefine above has parsed every step: a model that passed holds valid steps.
  if (parsed.success) return { ...parsed.data, rules: parseRuleSteps(parsed.data.rules).steps };
  throw errors.validation(
    'The record model is invalid.',
    parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}

/** The value at a dot path, or undefined when some segment is missing. */
export function valueAtPath(data: Record<string, unknown>, path: string): unknown {
  let at: unknown = data;
  for (const segment of path.split('.')) {
    if (!isPlainRecord(at) || !Object.prototype.hasOwnProperty.call(at, segment)) return undefined;
    at = at[segment];
  }
  return at;
}

/** A scalar as text (numbers exactly as written), or undefined for objects, arrays and null. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isLosslessNumber(value)) return value.value;
  return undefined;
}

/**
 * What a key field without a `normalize` entry gets: the same customer typed with other
 * case, spacing or Unicode composition is the same customer. `normalize: {field: []}`
 * compares the value exactly.
 */
export const DEFAULT_KEY_NORMALIZERS: readonly Normalizer[] = ['trim', 'nfc', 'lowercase'];

export function normalizeKeyValue(value: string, normalizers: readonly Normalizer[] | undefined): string {
  let out = value;
  for (const step of normalizers ?? DEFAULT_KEY_NORMALIZERS) {
    if (step === 'trim') out = out.trim();
    else if (step === 'lowercase') out = out.toLowerCase();
    else if (step === 'nfc') out = out.normalize('NFC');
    else out = out.replace(/[^0-9]/g, '');
  }
  return out;
}

export type KeyOutcome =
  | { ok: true; key: Record<string, string> }
  | { ok: false; code: 'missing_key' | 'invalid_key'; message: string };

/** The normalized key of a record: every key field present, a scalar, not empty, not too long. */
export function keyOfRecord(data: Record<string, unknown>, key: ModelKey): KeyOutcome {
  const values: Record<string, string> = {};
  let bytes = 0;
  for (const field of key.fields) {
    const raw = valueAtPath(data, field);
    if (raw === undefined || raw === null) return { ok: false, code: 'missing_key', message: `The key field ${field} is missing.` };
    const text = scalarText(raw);
    if (text === undefined) {
      return { ok: false, code: 'invalid_key', message: `The key field ${field} must be a string, number or boolean, not an object or array.` };
    }
    const normalized = normalizeKeyValue(text, key.normalize?.[field]);
    if (normalized.length === 0) return { ok: false, code: 'missing_key', message: `The key field ${field} is empty.` };
    bytes += Buffer.byteLength(normalized);
    if (bytes > MAX_KEY_BYTES) {
      return { ok: false, code: 'invalid_key', message: `The key is longer than ${MAX_KEY_BYTES} bytes once normalized.` };
    }
    Object.defineProperty(values, field, { value: normalized, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, key: values };
}

/**
 * The id of a customer's record: derived from the project and the normalized key values
 * alone, so every path (push, CSV row, XML element) for one customer lands on one record.
 * The values are joined as a JSON array so that no two keys can give the same text.
 */
export function keyedRecordId(projectId: string, model: KeyedModel, key: Record<string, string>): string {
  return deterministicId('key', projectId, JSON.stringify(model.key.fields.map((field) => key[field])));
}

/** What a record contributes to each declared index: non-empty scalars, not too long. */
export function indexEntriesOf(data: Record<string, unknown>, model: Pick<StoredModel, 'indexes' | 'indexSlots'>): IndexEntry[] {
  const out: IndexEntry[] = [];
  model.indexes.forEach((field, position) => {
    const text = scalarText(valueAtPath(data, field));
    // NUL separates the value from the id in DynamoDB's index key, so such a value is not indexed.
    if (text === undefined || text.length === 0 || text.includes('\u0000') || Buffer.byteLength(text) > MAX_INDEX_VALUE_BYTES) return;
    out.push({ field, slot: model.indexSlots?.[field] ?? position, value: text });
  });
  return out;
}

/**
 * Index slots for a new list of indexed fields: a field kept keeps its slot (its entries
 * stay valid), a new field takes the lowest free one. A slot freed by a dropped field may
 * hold that field's old entries until the backfill rewrites them; reads check each entry's
 * field, so they never answer with another field's match.
 */
export function assignIndexSlots(indexes: readonly string[], previous: Record<string, number> | undefined): Record<string, number> {
  const slots: Record<string, number> = {};
  const taken = new Set<number>();
  for (const field of indexes) {
    const slot = previous?.[field];
    if (slot !== undefined && slot < MAX_INDEXES) {
      Object.defineProperty(slots, field, { value: slot, enumerable: true, writable: true, configurable: true });
      taken.add(slot);
    }
  }
  for (const field of indexes) {
    if (Object.prototype.hasOwnProperty.call(slots, field)) continue;
    let slot = 0;
    while (taken.has(slot)) slot++;
    taken.add(slot);
    Object.defineProperty(slots, field, { value: slot, enumerable: true, writable: true, configurable: true });
  }
  return slots;
}
