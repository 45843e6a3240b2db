import type { Request } from 'express';
import type { CursorCodec } from '../domain/cursor.js';
import { errors } from '../errors.js';

const DEFAULT_LIMIT = 100;
const MIN_LIMIT = 1;
const MAX_LIMIT = 1000;

export interface PageRequest {
  limit: number;
  /** The position to continue after, from a cursor this service issued for the same listing. */
  after?: string;
}

/** `?limit=`: digits only (no `1e3`, no sign), refused with invalid_limit outside min..max. */
export function parseLimit(raw: unknown, fallback = DEFAULT_LIMIT, min = MIN_LIMIT, max = MAX_LIMIT): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,7}$/.test(raw)) throw errors.invalidLimit(min, max);
  const value = Number(raw);
  if (value < min || value > max) throw errors.invalidLimit(min, max);
  return value;
}

/**
 * `?limit=&cursor=` of a list route. The limit is checked first, so a request with both
 * wrong is told invalid_limit. A repeated `cursor` (an array) is invalid_cursor. `scope`
 * binds the cursor to one listing (`records:<project>`): a cursor from another is refused.
 */
export function pageRequest(query: Request['query'], cursors: CursorCodec, scope: string): PageRequest {
  const limit = parseLimit(query.limit);
  const raw = query.cursor;
  if (raw === undefined) return { limit };
  if (typeof raw !== 'string') throw errors.invalidCursor();
  return { limit, after: cursors.decode(scope, raw) };
}

/** The `nextCursor` of a page: null on the last one. */
export function nextCursor(cursors: CursorCodec, scope: string, position: string | undefined): string | null {
  return position === undefined ? null : cursors.encode(scope, position);
}
