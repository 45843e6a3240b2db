import { z } from 'zod';
import { errors } from '../errors.js';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

/** Names shown to people: bounded, no control characters. */
export const displayName = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s), 'must not contain control characters')
  .refine((s) => s.trim().length > 0, 'must not be blank')
  // A lone surrogate (`"\ud800"` is valid JSON) has no UTF-8 form: DynamoDB and S3 refuse it.
  .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');

/** Validates a request body against a schema; 400 validation_failed lists every issue. */
export function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw errors.validation(
      'The request body is invalid.',
      parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    );
  }
  return parsed.data;
}
