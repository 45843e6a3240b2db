import parsePhoneNumber, { type CountryCode } from 'libphonenumber-js';
import { LruCache } from '../../domain/lru-cache.js';
import { describe, valueStep, type CompiledStep } from './compiled-step.js';
import { splitPath } from './field-path.js';
import { nanpFastPath } from './phone-fast.js';
import type { StepOf } from './rule-schema.js';

/**
 * Parsed numbers kept per compiled step: the phone library takes ~10 µs a value, and a
 * customer's number comes back on each of their rows. Bounded, and dropped with the
 * compiled model when its version changes.
 */
const PHONE_CACHE_ENTRIES = 10_000;

export function phoneStep(step: StepOf<'phone'>): CompiledStep {
  const path = splitPath(step.field);
  const country = step.defaultCountry as CountryCode | undefined;
  const parseOptions = country === undefined ? undefined : { defaultCountry: country };
  const cache = new LruCache<string, { value: unknown } | { error: string }>({ maxEntries: PHONE_CACHE_ENTRIES });
  const invalid = (text: string) => ({ error: `${describe(text)} is not a valid phone number${country ? ` (default country ${country})` : ''}` });
  const fast = nanpFastPath(country);
  return valueStep(step.field, path, (text) => {
    const quick = fast?.(text);
    if (quick !== undefined) return quick === false ? invalid(text) : { value: quick };
    const hit = cache.get(text);
    if (hit !== undefined) return hit;
    const parsed = parsePhoneNumber(text, parseOptions);
    const out = parsed?.isValid() ? { value: parsed.number } : invalid(text);
    cache.set(text, out);
    return out;
  });
}
