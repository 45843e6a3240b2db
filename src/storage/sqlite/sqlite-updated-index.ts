import type { Database } from 'better-sqlite3';
import { errors } from '../../errors.js';
import type { UpdatedSinceQuery } from '../ports.js';
import { quoteIdentifier } from './sqlite-database.js';

/**
 * The records of a table by write time: an index on (ingested_at, id), which is the
 * record's updatedAt (a customer's record is rewritten with the time of its last change).
 * Made on first use, so tables from earlier releases gain it too (a one-off build).
 * Pages go in (time, id) order; a page's position is the last row's [time, id].
 */
export function listSqliteUpdatedSince<Row extends { id: string; ingested_at: string }>(
  db: Database,
  table: string,
  columns: string,
  query: UpdatedSinceQuery,
): { rows: Row[]; lastId?: string } {
  const name = quoteIdentifier(table);
  db.exec(`CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${table}#updated`)} ON ${name} (ingested_at, id)`);
  const [time, id] = query.after === undefined ? [query.since, ''] : decodeUpdatedPosition(query.after);
  const rows = db
    .prepare<[string, string, string, number], Row>(
      `SELECT ${columns} FROM ${name} WHERE ingested_at >= ? AND (ingested_at, id) > (?, ?) ORDER BY ingested_at, id LIMIT ?`,
    )
    .all(query.since, time, id, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return rows.length > query.limit && last !== undefined ? { rows: page, lastId: JSON.stringify([last.ingested_at, last.id]) } : { rows: page };
}

export function decodeUpdatedPosition(after: string): [string, string] {
  try {
    const parsed: unknown = JSON.parse(after);
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) return parsed as [string, string];
  } catch {
    // fall through
  }
  throw errors.invalidCursor();
}

