import type { ParsedRow } from './types.js';

/**
 * Nesting allowed in one record of a file when the caller names no limit. It matches the
 * default of INTAKE_MAX_JSON_DEPTH for pushes, so a record a push refuses is refused in a
 * file too, and every later step (record building, merging, exports) recurses over
 * values known to be shallow.
 */
export const DEFAULT_MAX_RECORD_DEPTH = 64;

/** The row rejection of a record nested past the limit. */
export function tooDeepRow(row: number, where: string, limit: number): ParsedRow {
  return { row, ok: false, code: 'too_deep', message: `${where} is nested deeper than ${limit} levels (the limit)` };
}

/** JSON's structural bytes, shared with the JSON-array splitter. */
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;

/**
 * Follows the bracket nesting of one JSON value fed in slices, without parsing it, and
 * says when it goes past the limit. It is a loop over bytes with two counters, so a value
 * a million levels deep costs what its bytes cost and never a stack frame per level;
 * the splitter can then drop the value's bytes instead of holding them.
 */
export class JsonDepthTracker {
  private depth = 0;
  private inString = false;
  private escaped = false;
  exceeded = false;

  constructor(readonly limit: number) {}

  /** Feeds bytes [start, end) of the value; returns true once the value is too deep. */
  feed(bytes: Buffer, start: number, end: number): boolean {
    if (this.exceeded) return true;
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++this.depth > this.limit) {
          this.exceeded = true;
          return true;
        }
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) this.depth--;
    }
    return false;
  }

  reset(): void {
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.exceeded = false;
  }
}
