import type { Statement } from 'better-sqlite3';
import type { StoredRecord } from '../../domain/model.js';
import type { IndexQuery, RecordLinesPage, RecordMerge, RecordPage, RecordStore, UpdatedSinceQuery } from '../ports.js';
import { assertStorableRecord } from '../record-limits.js';
import { quoteIdentifier, type SqliteDatabase } from './sqlite-database.js';
import { indexPosition, indexRange, SqliteRecordIndex } from './sqlite-record-index.js';
import { SqliteUpdatedIndex } from './sqlite-updated-index.js';

interface RecordRow {
  id: string;
  data: string;
  source: string;
  ingested_at: string;
  keyed: string | null;
}

interface TableStatements {
  upsert: Statement<[string, string, string, string, string | null]>;
  get: Statement<[string], RecordRow>;
  remove: Statement<[string]>;
  first: Statement<[number], RecordRow>;
  after: Statement<[string, number], RecordRow>;
  lines: Statement<[string, number], { text: Buffer | null; count: number; last: string | null }>;
  anyAfter: Statement<[string], unknown>;
  index: SqliteRecordIndex;
  /** Made by the first read by write time (it builds the index on a table from an earlier release). */
  updated?: SqliteUpdatedIndex<RecordRow>;
}

const COLUMNS = 'id, data, source, ingested_at, keyed';

/**
 * A record's view as the records API writes it (recordJson in http/views/record.view.ts)
 * and a newline, written by SQLite from the stored JSON text: an appended record as
 * {id, data, source, ingestedAt}, a customer's record as {id, key, data, version,
 * createdAt, updatedAt, source}. A test holds the two to the same bytes.
 */
const VIEW_LINE = `CASE WHEN keyed IS NULL
  THEN '{"id":' || json_quote(id) || ',"data":' || data || ',"source":' || source || ',"ingestedAt":' || json_quote(ingested_at) || '}'
  ELSE '{"id":' || json_quote(id) || ',"key":' || (keyed ->> '$.key') || ',"data":' || data || ',"version":' || (keyed ->> '$.version')
    || ',"createdAt":' || json_quote(keyed ->> '$.createdAt') || ',"updatedAt":' || json_quote(ingested_at) || ',"source":' || source || '}'
  END || char(10)`;

export const fromRow = (row: RecordRow): StoredRecord => {
  const record: StoredRecord = { id: row.id, data: row.data, source: row.source, ingestedAt: row.ingested_at };
  if (row.keyed !== null) record.keyed = JSON.parse(row.keyed) as StoredRecord['keyed'];
  return record;
};

/**
 * Records in the embedded database: one table per project (its DynamoDB table name), the
 * record's JSON text stored as sent. A put replaces the record with the same id, as
 * DynamoDB's PutItem does; a batch is one transaction, so it is stored whole or not at all.
 * Pages follow the id order. A customer's record keeps its keyed parts as JSON in `keyed`,
 * and its indexed values in the table's index table (see SqliteRecordIndex).
 */
export class SqliteRecordStore implements RecordStore {
  /**
   * Records per transaction. A commit costs far more than a row, so bigger is faster, but
   * the write runs on the event loop: 500 small rows commit in about 3 ms.
   */
  readonly writeBatchSize = 500;
  private readonly statements = new Map<string, TableStatements>();

  constructor(private readonly database: SqliteDatabase) {}

  async ensureTable(table: string): Promise<void> {
    this.tableStatements(table);
  }

  async putRecords(table: string, records: StoredRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) assertStorableRecord(record);
    const { upsert } = this.tableStatements(table);
    this.database.transaction(() => {
      for (const record of records) upsert.run(record.id, record.data, record.source, record.ingestedAt, null);
    });
  }

  /**
   * One transaction reads and writes every record: the database has one writer (its file is
   * locked by this process), so no other write can come between the read and the write.
   */
  async upsertRecords(table: string, ids: readonly string[], merge: RecordMerge): Promise<void> {
    if (ids.length === 0) return;
    const { upsert, get, index } = this.tableStatements(table);
    this.database.transaction(() => {
      for (const id of new Set(ids)) {
        const row = get.get(id);
        const current = row ? fromRow(row) : null;
        const next = merge(id, current);
        if (next === null) continue;
        assertStorableRecord(next);
        upsert.run(next.id, next.data, next.source, next.ingestedAt, next.keyed ? JSON.stringify(next.keyed) : null);
        index.replace(id, current?.keyed?.index ?? [], next.keyed?.index ?? []);
      }
    });
  }

  async ensureIndexes(table: string): Promise<void> {
    // The index table is made with the records table; each field's entries are written
    // with its records, and those from before the field was declared by a backfill.
    this.tableStatements(table);
  }

  async queryIndex(table: string, query: IndexQuery): Promise<RecordPage> {
    const { index } = this.tableStatements(table);
    const rows = this.database.guard(() => index.query(query.field, indexRange(query.match), indexPosition(query.after), query.limit + 1));
    const items = rows.slice(0, query.limit).map(fromRow);
    if (rows.length <= query.limit) return { items };
    const last = items.at(-1)!;
    const value = last.keyed?.index.find((entry) => entry.field === query.field)?.value ?? '';
    return { items, lastId: JSON.stringify([value, last.id]) };
  }

  async deleteRecord(table: string, id: string): Promise<StoredRecord | null> {
    const { get, remove, index } = this.tableStatements(table);
    return this.database.transaction(() => {
      const row = get.get(id);
      if (!row) return null;
      const record = fromRow(row);
      remove.run(id);
      index.replace(id, record.keyed?.index ?? [], []);
      return record;
    });
  }

  async countRecords(table: string): Promise<{ count: number; exact: boolean }> {
    this.tableStatements(table);
    const row = this.database.guard(() => this.database.db.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(table)}`).get() as { n: number });
    return { count: row.n, exact: true };
  }

  async deleteTable(table: string): Promise<void> {
    this.statements.delete(table);
    this.database.guard(() =>
      this.database.db.exec(`DROP TABLE IF EXISTS ${quoteIdentifier(`${table}#index`)}; DROP TABLE IF EXISTS ${quoteIdentifier(table)};`),
    );
  }

  async listUpdatedSince(table: string, query: UpdatedSinceQuery): Promise<RecordPage> {
    const page = this.database.guard(() => this.updatedIndex(table).list(query));
    return page.lastId === undefined ? { items: page.rows.map(fromRow) } : { items: page.rows.map(fromRow), lastId: page.lastId };
  }

  /**
   * A page written as NDJSON inside SQLite, one UTF-8 Buffer: about twice as fast as
   * reading the rows into JavaScript strings, writing each line and encoding it again.
   */
  async listRecordLines(table: string, options: { limit: number; afterId?: string }): Promise<RecordLinesPage> {
    const statements = this.tableStatements(table);
    return this.database.guard(() => {
      // Every id is longer than '', so '' reads from the first record.
      const page = statements.lines.get(options.afterId ?? '', options.limit)!;
      const text = page.text ?? Buffer.alloc(0);
      const more = page.count === options.limit && statements.anyAfter.get(page.last!) !== undefined;
      return more ? { text, count: page.count, lastId: page.last! } : { text, count: page.count };
    });
  }

  /** listUpdatedSince's page as NDJSON lines written in SQL, as listRecordLines writes them. */
  async listUpdatedLinesSince(table: string, query: UpdatedSinceQuery): Promise<RecordLinesPage> {
    return this.database.guard(() => this.updatedIndex(table).listLines(query));
  }

  async getRecord(table: string, id: string): Promise<StoredRecord | null> {
    const row = this.database.guard(() => this.tableStatements(table).get.get(id));
    return row ? fromRow(row) : null;
  }

  async listRecords(table: string, options: { limit: number; afterId?: string }): Promise<RecordPage> {
    const statements = this.tableStatements(table);
    // One row past the page tells whether another page follows.
    const rows = this.database.guard(() =>
      options.afterId === undefined
        ? statements.first.all(options.limit + 1)
        : statements.after.all(options.afterId, options.limit + 1),
    );
    const items = rows.slice(0, options.limit).map(fromRow);
    return rows.length > options.limit ? { items, lastId: items.at(-1)!.id } : { items };
  }

  private updatedIndex(table: string): SqliteUpdatedIndex<RecordRow> {
    const statements = this.tableStatements(table);
    statements.updated ??= new SqliteUpdatedIndex<RecordRow>(this.database.db, table, COLUMNS, VIEW_LINE);
    return statements.updated;
  }

  private tableStatements(table: string): TableStatements {
    let statements = this.statements.get(table);
    if (!statements) {
      const name = quoteIdentifier(table);
      statements = this.database.guard(() => {
        const db = this.database.db;
        db.exec(
          `CREATE TABLE IF NOT EXISTS ${name} (
             id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, source TEXT NOT NULL, ingested_at TEXT NOT NULL, keyed TEXT)`,
        );
        // Tables made before customer records lack the column; adding a nullable column is instant.
        const columns = db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[];
        if (!columns.some((column) => column.name === 'keyed')) db.exec(`ALTER TABLE ${name} ADD COLUMN keyed TEXT`);
        return {
          upsert: db.prepare<[string, string, string, string, string | null]>(
            `INSERT INTO ${name} (${COLUMNS}) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, source = excluded.source,
               ingested_at = excluded.ingested_at, keyed = excluded.keyed`,
          ),
          get: db.prepare<[string], RecordRow>(`SELECT ${COLUMNS} FROM ${name} WHERE id = ?`),
          remove: db.prepare<[string]>(`DELETE FROM ${name} WHERE id = ?`),
          first: db.prepare<[number], RecordRow>(`SELECT ${COLUMNS} FROM ${name} ORDER BY id LIMIT ?`),
          after: db.prepare<[string, number], RecordRow>(`SELECT ${COLUMNS} FROM ${name} WHERE id > ? ORDER BY id LIMIT ?`),
          lines: db.prepare<[string, number], { text: Buffer | null; count: number; last: string | null }>(
            `SELECT CAST(group_concat(line, '' ORDER BY id) AS BLOB) AS text, count(*) AS count, max(id) AS last
             FROM (SELECT id, ${VIEW_LINE} AS line FROM ${name} WHERE id > ? ORDER BY id LIMIT ?)`,
          ),
          anyAfter: db.prepare<[string]>(`SELECT 1 FROM ${name} WHERE id > ? LIMIT 1`),
          index: new SqliteRecordIndex(db, table, COLUMNS),
        };
      });
      this.statements.set(table, statements);
    }
    return statements;
  }
}
