import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { AppError, errors } from '../errors.js';

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

/** Keys in a parsed value, counted over every nested object. */
function countKeys(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countKeys(item);
    return count;
  }
  for (const key of Object.keys(value)) count += 1 + countKeys((value as Record<string, unknown>)[key]);
  return count;
}

/**
 * The fast path of exact parsing: JSON.parse, used only when it provably gives what
 * lossless-json gives. That holds when every number token reads back as the same text
 * (String(Number(token)) === token: no digit lost past 2^53 or 17 significant digits, no
 * exponent, no trailing zero, no -0) and no object repeats a key (lossless-json refuses a
 * key repeated with another value; JSON.parse keeps the last). JSON.parse already stores
 * `__proto__` as an own data key. Anything else returns undefined (which no JSON text
 * parses to) and the caller takes the lossless path, which also words every syntax error.
 */
export function parsePlainJson(text: string): unknown {
  let keys = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      for (i = text.indexOf('"', i + 1); i !== -1; i = text.indexOf('"', i + 1)) {
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 92 /* \ */) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      if (i === -1) return undefined;
      let j = i + 1;
      while (j < n) {
        const w = text.charCodeAt(j);
        if (w !== 32 && w !== 9 && w !== 10 && w !== 13) break;
        j++;
      }
      if (text.charCodeAt(j) === 58 /* : */) keys++;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        // digits . e E + -
        if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) j++;
        else break;
      }
      const token = text.slice(i, j);
      if (String(Number(token)) !== token) return undefined;
      i = j - 1;
    }
  }
  try {
    const value: unknown = JSON.parse(text);
    return countKeys(value) === keys ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The refusal of a record nested past the limit. Built here rather than in errors.ts so
 * that every path that checks depth (pushes, files through the parsers) words it alike.
 */
export function tooDeepError(limit: number): AppError {
  return new AppError(400, 'too_deep', `JSON nesting deeper than ${limit} levels (the limit) is not accepted.`);
}

/**
 * Parses JSON keeping every number exactly as written (big integers, long decimals) and
 * `__proto__`/`constructor` as ordinary data keys. Throws too_deep (depth counted without
 * recursion, before any parser sees the text) and malformed_json.
 */
export function parseJsonExact(text: string, maxDepth: number): unknown {
  return parseExact(text, maxDepth, errors.malformedJson);
}

/**
 * parseJsonExact for the text of one record among several (an array element, an NDJSON
 * line): a key repeated with another value is then that record's own fault, duplicate_key,
 * rather than the whole text's. It is well-formed JSON (RFC 8259 only says names SHOULD be
 * unique) whose meaning is ambiguous, so the record is refused, never half-read.
 */
export function parseRecordJson(text: string, maxDepth: number): unknown {
  return parseExact(text, maxDepth, errors.duplicateKey);
}

function parseExact(text: string, maxDepth: number, duplicateKey: (detail: string) => AppError): unknown {
  if (jsonDepthExceeds(text, maxDepth)) throw tooDeepError(maxDepth);
  const plain = parsePlainJson(text);
  if (plain !== undefined) return plain;
  try {
    return parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.slice(0, 200) : 'parse error';
    // lossless-json words a repeated key so; every other message is a syntax error.
    if (detail.startsWith('Duplicate key')) throw duplicateKey(detail);
    throw errors.malformedJson(detail);
  }
}

/** Parsing depth of stored data: it was checked on the way in, this only bounds recursion. */
const STORED_DEPTH = 1000;
/** Where a number token could start: after a colon, a comma or a bracket (inside strings too, which only costs the fast path). */
const NUMBER_START = /[:,[]\s*-?\d/;

/**
 * Parses record data as the store holds it: written by toJsonText, so no key is repeated
 * and the depth was checked on the way in. Text with no number token in it parses the same
 * with JSON.parse, without the scans of the exact path (a keyed write reads its record back
 * on every row); anything that may hold a number takes the exact path.
 */
export function parseStoredJson(text: string): Record<string, unknown> {
  if (!NUMBER_START.test(text)) return JSON.parse(text) as Record<string, unknown>;
  return parseJsonExact(text, STORED_DEPTH) as Record<string, unknown>;
}

/** Codes of parseJsonExact that fault one record alone; any other makes the text unreadable. */
export const RECORD_PARSE_CODES: ReadonlySet<string> = new Set(['too_deep', 'duplicate_key']);

/**
 * The texts of the elements of a top-level JSON array, found without parsing them and
 * without recursion (a depth counter and a string flag), so that each element can be
 * parsed and judged on its own. Undefined when the text is not one array. The slices are
 * not validated here: parsing each of them is what tells a well-formed array.
 */
export function splitJsonArrayText(text: string): string[] | undefined {
  const start = text.search(/\S/);
  if (start === -1 || text.charCodeAt(start) !== 91 /* [ */) return undefined;
  const elements: string[] = [];
  let depth = 1;
  let inString = false;
  let elementStart = start + 1;
  let i = start + 1;
  for (; i < text.length && depth > 0; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) depth++;
    else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (--depth === 0) elements.push(text.slice(elementStart, i));
    } else if (c === 44 /* , */ && depth === 1) {
      elements.push(text.slice(elementStart, i));
      elementStart = i + 1;
    }
  }
  if (depth > 0 || text.slice(i).trim().length > 0) return undefined;
  // `[]` and `[ ]` hold no element rather than one empty one.
  if (elements.length === 1 && elements[0]!.trim().length === 0) return [];
  return elements;
}

export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

function holdsLosslessNumber(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some(holdsLosslessNumber);
  for (const key of Object.keys(value)) if (holdsLosslessNumber((value as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * JSON text of a value parsed by parseJsonExact, numbers as they were written. Values
 * without a LosslessNumber (the fast path's) print the same with the native stringify.
 */
export function toJsonText(value: unknown): string {
  if (!holdsLosslessNumber(value)) return JSON.stringify(value) ?? 'null';
  return stringify(value) ?? 'null';
}
