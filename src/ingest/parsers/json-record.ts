import { isUtf8 } from 'node:buffer';
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { parsePlainJson } from '../../domain/json-text.js';
import type { TextState } from './text-encoding.js';
import type { ParsedRow } from './types.js';

/**
 * Turns the bytes of one JSON value into a row. lossless-json keeps every
 * number exactly as written (big integers, long decimals, 1.10), builds plain
 * objects with `__proto__` as an own data key, and rejects a key repeated with a
 * different value rather than silently keeping one of the two. Lines that JSON.parse
 * reads exactly the same way take its (much faster) native path.
 */
export function jsonBytesToRow(row: number, bytes: Buffer, text: TextState, where: string): ParsedRow {
  if (text.invalidUtf8Seen && !isUtf8(bytes)) {
    return { row, ok: false, code: 'invalid_encoding', message: `${where} holds bytes that are not valid UTF-8` };
  }
  let value: unknown;
  let plain = false;
  try {
    const json = bytes.toString('utf8');
    value = parsePlainJson(json);
    plain = value !== undefined;
    if (!plain) value = parse(json);
  } catch (err) {
    // SyntaxError from the parser, RangeError from absurd nesting.
    const reason = err instanceof Error ? err.message : String(err);
    return { row, ok: false, code: 'invalid_json', message: `${where} is not valid JSON: ${reason}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isLosslessNumber(value)) {
    const kind =
      value === null ? 'null' : Array.isArray(value) ? 'an array' : isLosslessNumber(value) ? 'a number' : `a ${typeof value}`;
    return { row, ok: false, code: 'not_an_object', message: `${where} is ${kind}, not an object` };
  }
  // The fast path's plain values print the same with the native stringify.
  return { row, ok: true, data: plain ? JSON.stringify(value) : (stringify(value) as string) };
}
