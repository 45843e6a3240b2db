import { LosslessNumber } from 'lossless-json';
import { isSupportedCountry } from 'libphonenumber-js';
import { RE2JS } from 're2js';
import safeRegex from 'safe-regex2';
import { describe, fail, Rebuilt, SKIP, stringStep, valueStep, type CompiledStep } from './compiled-step.js';
import { checkDateFormats, dateReader } from './date-cast.js';
import { getAt, scalarText, setAt, splitPath } from './field-path.js';
import { hmacSha256Hex } from './hmac.js';
import { phoneStep } from './phone-step.js';
import { dropStep, keepStep, renameStep } from './restructure-steps.js';
import type { RuleProblem, RuleStep, StepOf } from './rule-schema.js';

export { SKIP } from './compiled-step.js';

/** Why a record was rejected by a step: which step, which rule, which field, in words. */
export interface RuleFailure {
  code: 'rule_failed';
  step: number;
  rule: string;
  field: string;
  message: string;
}

export type RulesOutcome =
  | { ok: true; record: Record<string, unknown> }
  | { ok: false; skipped: true; step: number }
  | { ok: false; skipped: false; reason: RuleFailure };

export interface CompiledRules {
  readonly length: number;
  /**
   * Cleans a record, in place or into a new object (the outcome's record is the result);
   * on failure or skip the caller discards it (no partial result is stored).
   */
  apply(record: Record<string, unknown>): RulesOutcome;
}

export interface RuleOptions {
  /** The project's HMAC secret for `hash` steps. */
  hashSecret?: string;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
// Deliberately plain: a local part, one @, a dotted domain with a 2+ letter top level.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,}$/;
const TRUE_TEXT = new Set(['true', 'yes', 'y', '1']);
const FALSE_TEXT = new Set(['false', 'no', 'n', '0']);

/** A declared value as a record gets it: scalars shared, objects and arrays copied (the record may be changed later). */
const copyOf = (value: unknown): unknown => (typeof value === 'object' && value !== null ? structuredClone(value) : value);

/** Problems only compiling can find, with their step index; empty when the rules compile. */
export function checkCompiledRules(steps: readonly RuleStep[]): RuleProblem[] {
  const problems: RuleProblem[] = [];
  steps.forEach((step, index) => {
    if (step.op === 'cast' && (step.to === 'date' || step.to === 'datetime') && step.formats) {
      for (const message of checkDateFormats(step.to, step.formats)) problems.push({ step: index, path: 'formats', message });
    }
    if (step.op === 'cast' && step.formats && step.to !== 'date' && step.to !== 'datetime') {
      problems.push({ step: index, path: 'formats', message: 'formats apply only to a cast to date or datetime' });
    }
    if (step.op === 'replace') {
      if (!safeRegex(step.pattern)) {
        problems.push({ step: index, path: 'pattern', message: 'the pattern nests repetitions (catastrophic backtracking): rewrite it without a quantifier inside a quantified group' });
      }
      try {
        RE2JS.compile(step.pattern);
      } catch (error) {
        problems.push({ step: index, path: 'pattern', message: `not a supported regular expression: ${(error as Error).message}`.slice(0, 300) });
      }
    }
    if (step.op === 'phone' && step.defaultCountry !== undefined && !isSupportedCountry(step.defaultCountry)) {
      problems.push({ step: index, path: 'defaultCountry', message: `${JSON.stringify(step.defaultCountry)} is not a supported ISO 3166 country code` });
    }
  });
  return problems;
}

/** Compiles validated steps once: patterns, format parsers, maps and keys are built here, never per record. */
export function compileRules(steps: readonly RuleStep[], options: RuleOptions = {}): CompiledRules {
  const compiled = steps.map((step) => compileStep(step, options));
  const names = steps.map((step) => step.op);
  return {
    length: compiled.length,
    apply(input) {
      let record = input;
      for (let i = 0; i < compiled.length; i++) {
        const result = compiled[i]!(record);
        if (result === undefined) continue;
        if (result === SKIP) return { ok: false, skipped: true, step: i };
        if (result instanceof Rebuilt) {
          record = result.record;
          continue;
        }
        return {
          ok: false,
          skipped: false,
          reason: { code: 'rule_failed', step: i, rule: names[i]!, field: result.field, message: `step ${i} (${names[i]}) on ${result.field}: ${result.message}` },
        };
      }
      return { ok: true, record };
    },
  };
}

function compileStep(step: RuleStep, options: RuleOptions): CompiledStep {
  switch (step.op) {
    case 'rename': return renameStep(step);
    case 'drop': return dropStep(step);
    case 'keep': return keepStep(step);
    case 'trim': return stringStep(step.fields, (s) => s.trim());
    case 'lowercase': return stringStep(step.fields, (s) => s.toLowerCase());
    case 'uppercase': return stringStep(step.fields, (s) => s.toUpperCase());
    case 'default': {
      const path = splitPath(step.field);
      const value = step.value;
      return (r) => {
        const at = getAt(r, path);
        if (at !== undefined && at !== null) return undefined;
        return setAt(r, path, copyOf(value)) ? undefined : fail(step.field, 'a parent of the field is not an object');
      };
    }
    case 'cast': return castStep(step);
    case 'map': return mapStep(step);
    case 'replace': {
      const path = splitPath(step.field);
      const re = RE2JS.compile(step.pattern);
      return valueStep(step.field, path, (text) => ({ value: re.matcher(text).replaceAll(step.with) }));
    }
    case 'split': return splitStep(step);
    case 'join': return joinStep(step);
    case 'email': {
      const path = splitPath(step.field);
      return valueStep(step.field, path, (text) => {
        const email = text.trim().toLowerCase();
        return EMAIL.test(email) ? { value: email } : { error: `${describe(text)} is not an email address` };
      });
    }
    case 'phone': return phoneStep(step);
    case 'hash': {
      if (options.hashSecret === undefined) throw new Error('hash steps need the project secret');
      // The padded keys made once (see hmacSha256Hex), not a native HMAC object per value.
      const hmac = hmacSha256Hex(Buffer.from(options.hashSecret, 'base64'));
      const paths = step.fields.map((f) => [f, splitPath(f)] as const);
      return (r) => {
        for (const [name, path] of paths) {
          const v = getAt(r, path);
          if (v === undefined || v === null) continue;
          const text = scalarText(v);
          if (text === undefined) return fail(name, 'only a string, number or boolean can be hashed');
          setAt(r, path, hmac(text));
        }
        return undefined;
      };
    }
    case 'filter': return filterStep(step);
    case 'required': {
      const paths = step.fields.map((f) => [f, splitPath(f)] as const);
      return (r) => {
        for (const [name, path] of paths) {
          const v = getAt(r, path);
          if (v === undefined || v === null || v === '') return fail(name, 'is required');
        }
        return undefined;
      };
    }
  }
}

function castStep(step: StepOf<'cast'>): CompiledStep {
  const path = splitPath(step.field);
  const name = step.field;
  switch (step.to) {
    case 'string':
      return valueStep(name, path, (text) => ({ value: text }));
    case 'number':
    case 'integer': {
      const pattern = step.to === 'number' ? NUMBER : INTEGER;
      return valueStep(name, path, (text) => {
        const t = text.trim();
        if (!pattern.test(t)) return { error: `${describe(text)} is not ${step.to === 'number' ? 'a number' : 'an integer'}` };
        // Kept as the exact number written: a cast to number loses no digit. One that reads
        // back as its own text is a plain number, as exact parsing leaves it: the same stored
        // text, without the lossless printer's cost on every record that holds one.
        const plain = Number(t);
        return { value: String(plain) === t ? plain : new LosslessNumber(t) };
      });
    }
    case 'boolean':
      return valueStep(name, path, (text) => {
        const t = text.trim().toLowerCase();
        if (TRUE_TEXT.has(t)) return { value: true };
        if (FALSE_TEXT.has(t)) return { value: false };
        return { error: `${describe(text)} is not a boolean (true/false, yes/no, 1/0)` };
      });
    case 'date':
    case 'datetime': {
      const reader = dateReader(step.to, step.formats);
      return valueStep(name, path, (text) => {
        const read = reader.read(text.trim());
        return read.ok ? { value: read.iso } : { error: read.message };
      });
    }
  }
}

function mapStep(step: StepOf<'map'>): CompiledStep {
  const path = splitPath(step.field);
  const table = new Map(Object.entries(step.values));
  const otherwise = step.otherwise;
  return valueStep(step.field, path, (text) => {
    if (table.has(text)) return { value: copyOf(table.get(text)) };
    if (otherwise === 'keep') return undefined;
    if (otherwise === 'null') return { value: null };
    return { error: `${describe(text)} is not one of the mapped values` };
  });
}

function splitStep(step: StepOf<'split'>): CompiledStep {
  const path = splitPath(step.field);
  const into = step.into.map(splitPath);
  return (r) => {
    const v = getAt(r, path);
    if (v === undefined || v === null) return undefined;
    const text = scalarText(v);
    if (text === undefined) return fail(step.field, 'must be a string to split');
    const parts = text.split(step.separator);
    // The last field takes the rest, so nothing of the value is lost.
    const tail = parts.splice(into.length - 1).join(step.separator);
    parts.push(tail);
    for (let i = 0; i < into.length && i < parts.length; i++) {
      if (!setAt(r, into[i]!, parts[i])) return fail(step.into[i]!, 'a parent of the field is not an object');
    }
    return undefined;
  };
}

function joinStep(step: StepOf<'join'>): CompiledStep {
  const paths = step.fields.map((f) => [f, splitPath(f)] as const);
  const into = splitPath(step.into);
  return (r) => {
    const parts: string[] = [];
    for (const [name, p] of paths) {
      const v = getAt(r, p);
      if (v === undefined || v === null) continue;
      const text = scalarText(v);
      if (text === undefined) return fail(name, 'must be a string, number or boolean to join');
      if (text !== '') parts.push(text);
    }
    return setAt(r, into, parts.join(step.separator)) ? undefined : fail(step.into, 'a parent of the field is not an object');
  };
}

function filterStep(step: StepOf<'filter'>): CompiledStep {
  const path = splitPath(step.field);
  if (step.exists !== undefined) {
    const want = step.exists;
    return (r) => {
      const v = getAt(r, path);
      return (v !== undefined && v !== null) === want ? undefined : SKIP;
    };
  }
  const accepted = new Set((step.in ?? [step.equals!]).map((v) => String(v)));
  return (r) => {
    const text = scalarText(getAt(r, path));
    return text !== undefined && accepted.has(text) ? undefined : SKIP;
  };
}
