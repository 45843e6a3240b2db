import { LruCache } from '../domain/lru-cache.js';
import { compileRules, type CompiledRules, type RuleFailure } from './rules/compile-rules.js';
import type { RuleStep } from './rules/rule-schema.js';
import { compileSchema, type SchemaCheck, type SchemaFailure } from './schema-contract.js';

/**
 * A model's data-quality part compiled: the cleaning rules, then the schema contract. Built
 * once per (project, model version) and shared by every path that stores records.
 */

export type OnInvalid = 'reject' | 'quarantine';

/** The parts of a stored model the cleaner reads. */
export interface QualityModel {
  version: number;
  updatedAt?: string;
  /** The steps and the schema as JSON text, as the stored model keeps them. */
  rulesJson?: string;
  schemaJson?: string;
  onInvalid?: OnInvalid;
  hashSecret?: string;
}

/** Why a row was refused, in the row error's shape (`step` is absent for the schema). */
export interface CleanReason {
  code: 'rule_failed' | 'schema_invalid';
  step?: number;
  rule: string;
  field: string;
  message: string;
}

/**
 * A refused row as the quarantine keeps it: the reason and the row exactly as it arrived
 * (its JSON text, before any step changed it).
 */
export interface Rejection {
  reason: CleanReason;
  raw: string;
}

export type CleanOutcome =
  | { kind: 'clean'; record: Record<string, unknown> }
  | { kind: 'skipped'; step: number }
  | { kind: 'rejected'; reason: CleanReason };

export interface RecordCleaner {
  readonly onInvalid: OnInvalid;
  /**
   * Cleans a record (the caller owns it) in place or into a new object: the outcome's
   * record is the cleaned one. A skipped or rejected record is to be discarded whole.
   */
  clean(record: Record<string, unknown>): CleanOutcome;
}

const fromRule = (r: RuleFailure): CleanReason => ({ code: r.code, step: r.step, rule: r.rule, field: r.field, message: r.message });
const fromSchema = (s: SchemaFailure): CleanReason => ({ code: s.code, rule: s.rule, field: s.field, message: s.message });

/** Compiles a model's rules and schema; undefined when it declares neither. */
export function compileCleaner(model: QualityModel): RecordCleaner | undefined {
  const steps = model.rulesJson === undefined ? [] : (JSON.parse(model.rulesJson) as RuleStep[]);
  if (steps.length === 0 && model.schemaJson === undefined) return undefined;
  const rules: CompiledRules | undefined = steps.length > 0 ? compileRules(steps, { hashSecret: model.hashSecret }) : undefined;
  const schema: SchemaCheck | undefined = model.schemaJson === undefined ? undefined : compileSchema(JSON.parse(model.schemaJson) as object);
  return {
    onInvalid: model.onInvalid ?? 'reject',
    clean(input) {
      let record = input;
      if (rules !== undefined) {
        const out = rules.apply(record);
        if (!out.ok) return out.skipped ? { kind: 'skipped', step: out.step } : { kind: 'rejected', reason: fromRule(out.reason) };
        // The rules may have built the record anew (see Rebuilt): the schema checks what they give.
        record = out.record;
      }
      if (schema !== undefined) {
        const failure = schema(record);
        if (failure !== undefined) return { kind: 'rejected', reason: fromSchema(failure) };
      }
      return { kind: 'clean', record };
    },
  };
}

// Compiled models are immutable per (project, version): a bounded cache shared by every path.
const compiled = new LruCache<string, RecordCleaner | null>({ maxEntries: 500 });

/** The cleaner of a project's saved model, compiled at most once per model version. */
export function cleanerOf(projectId: string, model: QualityModel | undefined): RecordCleaner | undefined {
  if (model === undefined || (model.rulesJson === undefined && model.schemaJson === undefined)) return undefined;
  // The time of change too: a project deleted and made again starts its versions over.
  const key = `${projectId}\u0000${model.version}\u0000${model.updatedAt ?? ''}`;
  const hit = compiled.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const cleaner = compileCleaner(model);
  compiled.set(key, cleaner ?? null);
  return cleaner;
}
