import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isLosslessNumber } from 'lossless-json';

/**
 * The model's JSON Schema (2020-12), checked after cleaning by Ajv, compiled once per model
 * version. The schema is refused at save when Ajv cannot compile it (an unknown keyword or format,
 * or a keyword with a wrong type of value, is a mistake, not something to ignore).
 */

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface SchemaFailure {
  code: 'schema_invalid';
  field: string;
  rule: 'schema';
  keyword: string;
  message: string;
}

export type SchemaCheck = (record: Record<string, unknown>) => SchemaFailure | undefined;

function newAjv(): Ajv2020 {
  // One error is enough to reject a row; allErrors would cost time on every invalid row.
  return addFormats(new Ajv2020({
    // Unknown keywords and formats are mistakes in the schema; type and `required`
    // combinations that merely look loose are the author's choice.
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allErrors: false,
    validateFormats: true,
  }));
}

/** Why the schema is not one Ajv can compile, or undefined when it is. */
export function schemaProblem(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'must be a JSON Schema object';
  try {
    newAjv().compile(schema as object);
    return undefined;
  } catch (error) {
    return `not a valid JSON Schema: ${(error as Error).message}`.slice(0, 500);
  }
}

export function compileSchema(schema: object): SchemaCheck {
  const validate: ValidateFunction = newAjv().compile(schema);
  return (record) => {
    if (validate(forValidation(record))) return undefined;
    return failureOf(validate.errors?.[0]);
  };
}

function failureOf(error: ErrorObject | undefined): SchemaFailure {
  if (error === undefined) return { code: 'schema_invalid', field: '', rule: 'schema', keyword: 'unknown', message: 'the record does not match the schema' };
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  if (error.keyword === 'required' && missing !== undefined) segments.push(missing);
  const field = segments.join('.');
  return {
    code: 'schema_invalid',
    field,
    rule: 'schema',
    keyword: error.keyword,
    message: `${field === '' ? 'the record' : field} ${error.message ?? 'is invalid'} (schema keyword ${error.keyword})`,
  };
}

/**
 * Ajv sees a LosslessNumber as an object: the check runs on a copy where such numbers are
 * plain numbers (bounds on numbers past 2^53 are therefore checked approximately). Records
 * without one are checked as they are, with no copy.
 */
function forValidation(value: unknown): unknown {
  if (!holdsLossless(value)) return value;
  return convert(value);
}

function holdsLossless(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some(holdsLossless);
  for (const key of Object.keys(value)) if (holdsLossless((value as Record<string, unknown>)[key])) return true;
  return false;
}

function convert(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isLosslessNumber(value)) return Number(value.value);
  if (Array.isArray(value)) return value.map(convert);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, { value: convert((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
