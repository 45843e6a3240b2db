import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { IndexEntry } from '../../domain/model.js';
import { errors } from '../../errors.js';
import type { IndexQuery } from '../ports.js';
import { quoteIdentifier } from './sqlite-database.js';

/** Past every character: the top of a prefix range (U+10FFFF sorts last in UTF-8 byte order). */
const TOP = '\u{10FFFF}';

interface IndexedRow {
  id: string;
  data: string;
  source: string;
  ingested_at: string;
  keyed: string | null;
}

/**
 * A project's secondary indexes in the embedded database: one table `<records>#index` of
 * (field, value, id) rows, its primary key a B-tree in (field, value, id) order, written in
 * the same transaction as the record. Equality and prefix queries are range reads of that
 * B-tree, in the same (value, id) order as a DynamoDB index, never a scan of the records.
 */
export class SqliteRecordIndex {
  private readonly remove: Statement<[string, string, string]>;
  private readonly insert: Statement<[string, string, string]>;
  private readonly range: Statement<[string, string, string, string, string, number], IndexedRow>;

  constructor(db: Database.Database, table: string, columns: string) {
    const index = quoteIdentifier(`${table}#index`);
    const records = quoteIdentifier(table);
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${index} (
         field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (field, value, id)) WITHOUT ROWID`,
    );
    this.remove = db.prepare(`DELETE FROM ${index} WHERE field = ? AND value = ? AND id = ?`);
    this.insert = db.prepare(`INSERT OR IGNORE INTO ${index} (field, value, id) VALUES (?, ?, ?)`);
    const selected = columns
      .split(',')
      .map((column) => `r.${column.trim()}`)
      .join(', ');
    this.range = db.prepare(
      `SELECT ${selected} FROM ${index} i JOIN ${records} r ON r.id = i.id
       WHERE i.field = ? AND i.value >= ? AND i.value < ? AND (i.value, i.id) > (?, ?)
       ORDER BY i.value, i.id LIMIT ?`,
    );
  }

  /** Moves a record's entries from its old indexed values to its new ones (inside the caller's transaction). */
  replace(id: string, before: readonly IndexEntry[], after: readonly IndexEntry[]): void {
    const kept = (entry: IndexEntry, among: readonly IndexEntry[]) => among.some((e) => e.field === entry.field && e.value === entry.value);
    for (const entry of before) if (!kept(entry, after)) this.remove.run(entry.field, entry.value, id);
    for (const entry of after) if (!kept(entry, before)) this.insert.run(entry.field, entry.value, id);
  }

  query(field: string, range: { from: string; to: string }, after: [string, string], limit: number): IndexedRow[] {
    return this.range.all(field, range.from, range.to, after[0], after[1], limit);
  }
}

/** The value range of a query: one value (up to the next possible string), or every value starting with a prefix. */
export function indexRange(match: IndexQuery['match']): { from: string; to: string } {
  if ('equals' in match) return { from: match.equals, to: `${match.equals}\u0000` };
  return { from: match.prefix, to: `${match.prefix}${TOP}` };
}

/** A page position: the (value, id) of the last record of the previous page. */
export function indexPosition(after: string | undefined): [string, string] {
  if (after === undefined) return ['', ''];
  try {
    const parsed: unknown = JSON.parse(after);
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) {
      return parsed as [string, string];
    }
  } catch {
    // fall through
  }
  throw errors.invalidCursor();
}
