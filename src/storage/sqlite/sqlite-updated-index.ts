import type { Database } from 'better-sqlite3';
import { errors } from '../../errors.js';
import type { UpdatedSinceQuery } from '../ports.js';
import { quoteIdentifier } from './sqlite-database.js';

/**
 * Rows after a page position in (time, id) order. The row value alone bounds the index
 * scan: with `ingested_at >= since` beside it, SQLite ranged on the time only and stepped
 * over every row before the position on every page, a scan per page that made a feed of
 * records written at one time (a file's rows) quadratic: an NDJSON feed of 1M records took
 * 80 s, 2.4 s now.
 */
export const UPDATED_AFTER = '(ingested_at, id) > (?, ?)';

/**
 * The index on (ingested_at, id), made on first use so that tables from earlier releases
 * gain it too (a one-off build), and the position to read from: the page's, or the start
 * of `since` (every id is longer than ''). A position before `since` starts at `since`.
 */
function updatedRange(db: Database, table: string, query: UpdatedSinceQuery): { name: string; position: [string, string] } {
  const name = quoteIdentifier(table);
  db.exec(`CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${table}#updated`)} ON ${name} (ingested_at, id)`);
  const after = query.after === undefined ? undefined : decodeUpdatedPosition(query.after);
  return { name, position: after !== undefined && after[0] >= query.since ? after : [query.since, ''] };
}

/**
 * The records of a table by write time: ingested_at is the record's updatedAt (a
 * customer's record is rewritten with the time of its last change). Pages go in (time,
 * id) order; a page's position is the last row's [time, id].
 */
export function listSqliteUpdatedSince<Row extends { id: string; ingested_at: string }>(
  db: Database,
  table: string,
  columns: string,
  query: UpdatedSinceQuery,
): { rows: Row[]; lastId?: string } {
  const { name, position } = updatedRange(db, table, query);
  const rows = db
    .prepare<[string, string, number], Row>(`SELECT ${columns} FROM ${name} WHERE ${UPDATED_AFTER} ORDER BY ingested_at, id LIMIT ?`)
    .all(...position, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return rows.length > query.limit && last !== undefined ? { rows: page, lastId: JSON.stringify([last.ingested_at, last.id]) } : { rows: page };
}

/**
 * The same page as listSqliteUpdatedSince, as NDJSON lines SQLite writes (`line`: the SQL
 * of one record's line) in one UTF-8 Buffer; the position is the last row's [time, id].
 */
export function sqliteUpdatedLinesSince(db: Database, table: string, line: string, query: UpdatedSinceQuery): { text: Buffer; count: number; lastId?: string } {
  const { name, position } = updatedRange(db, table, query);
  // The last row in (time, id) order: an id holds no NUL, which sorts before every other character.
  const page = db
    .prepare<[string, string, number], { text: Buffer | null; count: number; last: string | null }>(
      `SELECT CAST(group_concat(line, '' ORDER BY ingested_at, id) AS BLOB) AS text, count(*) AS count,
         max(ingested_at || char(0) || id) AS last
       FROM (SELECT ingested_at, id, ${line} AS line FROM ${name} WHERE ${UPDATED_AFTER} ORDER BY ingested_at, id LIMIT ?)`,
    )
    .get(...position, query.limit)!;
  const text = page.text ?? Buffer.alloc(0);
  if (page.count < query.limit || page.last === null) return { text, count: page.count };
  const [lastTime, lastId] = page.last.split('\u0000') as [string, string];
  const more = db.prepare<[string, string]>(`SELECT 1 FROM ${name} WHERE ${UPDATED_AFTER} LIMIT 1`).get(lastTime, lastId) !== undefined;
  return more ? { text, count: page.count, lastId: JSON.stringify([lastTime, lastId]) } : { text, count: page.count };
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

