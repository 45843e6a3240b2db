import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { errors } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8: invalid byte sequences are refused rather than turned into U+FFFD. */
export function decodeUtf8(body: Buffer): string {
  try {
    return decoder.decode(body);
  } catch {
    throw errors.invalidUtf8();
  }
}

/**
 * Nesting depth of JSON text, counted without parsing, so that a body 100,000 levels deep
 * is refused before a recursive parser can exhaust the stack.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Parses JSON keeping every number exactly as written (big integers, long decimals) and
 * `__proto__`/`constructor` as ordinary data keys. Throws malformed_json.
 */
export function parseJsonExact(text: string, maxDepth: number): unknown {
  if (jsonDepthExceeds(text, maxDepth)) {
    throw errors.invalidBody(`JSON nesting deeper than ${maxDepth} levels is not accepted.`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw errors.malformedJson(error instanceof Error ? error.message.slice(0, 200) : 'parse error');
  }
}

export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** JSON text of a value parsed by parseJsonExact, numbers as they were written. */
export function toJsonText(value: unknown): string {
  return stringify(value) ?? 'null';
}
