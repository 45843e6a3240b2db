import { z } from 'zod';

/**
 * The cleaning steps a record model may declare, each an object whose `op` names the step
 * with its parameters beside it. Parameters are checked here; what only compiling can tell
 * (a date format against its example, a pattern's safety, a phone country) is checked by
 * compileRules. Both report problems with the step's index.
 */

const MAX_PATH_LENGTH = 200;
export const MAX_RULES = 100;

const field = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_PATH_LENGTH, `must be at most ${MAX_PATH_LENGTH} characters`)
  .refine((p) => p.split('.').every((s) => s.length > 0), 'must be a dot path without empty segments');
const fields = z.array(field).min(1, 'needs at least one field').max(200);
const jsonScalar = z.union([z.string(), z.number(), z.boolean()]);

export const CAST_TYPES = ['string', 'number', 'integer', 'boolean', 'date', 'datetime'] as const;
export type CastType = (typeof CAST_TYPES)[number];

const dateFormat = z.union([
  z.string().min(1).max(64),
  z.strictObject({ format: z.string().min(1).max(64), example: z.string().min(1).max(64) }),
]);

const stepSchemas = {
  rename: z.strictObject({ op: z.literal('rename'), from: field, to: field }),
  drop: z.strictObject({ op: z.literal('drop'), fields }),
  keep: z.strictObject({ op: z.literal('keep'), fields }),
  trim: z.strictObject({ op: z.literal('trim'), fields: z.union([z.literal('*'), fields]) }),
  lowercase: z.strictObject({ op: z.literal('lowercase'), fields }),
  uppercase: z.strictObject({ op: z.literal('uppercase'), fields }),
  default: z.strictObject({ op: z.literal('default'), field, value: z.json() }),
  cast: z.strictObject({
    op: z.literal('cast'),
    field,
    to: z.enum(CAST_TYPES, { error: `must be one of ${CAST_TYPES.join(', ')}` }),
    formats: z.array(dateFormat).min(1).max(10).optional(),
  }),
  map: z.strictObject({
    op: z.literal('map'),
    field,
    values: z.record(z.string(), z.json(), { error: 'is required: an object from input values to output values' })
      .refine((v) => Object.keys(v).length > 0, 'must map at least one value'),
    otherwise: z.enum(['keep', 'null', 'error']).default('keep'),
  }),
  replace: z.strictObject({ op: z.literal('replace'), field, pattern: z.string().min(1).max(500), with: z.string().max(500) }),
  split: z.strictObject({ op: z.literal('split'), field, separator: z.string().min(1).max(20), into: fields.max(20) }),
  join: z.strictObject({ op: z.literal('join'), fields: fields.max(20), separator: z.string().max(20), into: field }),
  email: z.strictObject({ op: z.literal('email'), field }),
  phone: z.strictObject({ op: z.literal('phone'), field, defaultCountry: z.string().length(2).optional() }),
  hash: z.strictObject({ op: z.literal('hash'), fields }),
  filter: z
    .strictObject({
      op: z.literal('filter'),
      field,
      equals: jsonScalar.optional(),
      in: z.array(jsonScalar).min(1).max(1000).optional(),
      exists: z.boolean().optional(),
    })
    .refine((s) => [s.equals, s.in, s.exists].filter((v) => v !== undefined).length === 1, 'needs exactly one of equals, in, exists'),
  required: z.strictObject({ op: z.literal('required'), fields }),
} as const;

export type StepOp = keyof typeof stepSchemas;
export const STEP_OPS = Object.keys(stepSchemas) as StepOp[];
export type RuleStep = { [K in StepOp]: z.infer<(typeof stepSchemas)[K]> }[StepOp];
export type StepOf<K extends StepOp> = Extract<RuleStep, { op: K }>;

export interface RuleProblem {
  /** Index of the step in `rules`. */
  step: number;
  /** Path inside the step (`op`, `formats.0`...). */
  path: string;
  message: string;
}

/** Parses each step on its own, so every problem of every step is listed. */
export function parseRuleSteps(input: readonly unknown[]): { steps: RuleStep[]; problems: RuleProblem[] } {
  const steps: RuleStep[] = [];
  const problems: RuleProblem[] = [];
  input.forEach((raw, step) => {
    const op = typeof raw === 'object' && raw !== null ? (raw as { op?: unknown }).op : undefined;
    if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(stepSchemas, op)) {
      problems.push({ step, path: 'op', message: `unknown step type ${JSON.stringify(op ?? null)}; known: ${STEP_OPS.join(', ')}` });
      return;
    }
    const parsed = stepSchemas[op as StepOp].safeParse(raw);
    if (parsed.success) steps.push(parsed.data as RuleStep);
    else for (const issue of parsed.error.issues) problems.push({ step, path: issue.path.join('.'), message: issue.message });
  });
  return { steps, problems };
}
