import type { Statement } from 'better-sqlite3';
import type { StoredRecord } from '../../domain/model.js';
import type { RecordPage, RecordStore } from '../ports.js';
import { assertStorableRecord } from '../record-limits.js';
import { quoteIdentifier, type SqliteDatabase } from './sqlite-database.js';

interface RecordRow {
  id: string;
  data: string;
  source: string;
  ingested_at: string;
}

interface TableStatements {
  upsert: Statement<[string, string, string, string]>;
  get: Statement<[string], RecordRow>;
  first: Statement<[number], RecordRow>;
  after: Statement<[string, number], RecordRow>;
}

const fromRow = (row: RecordRow): StoredRecord => ({
  id: row.id,
  data: row.data,
  source: row.source,
  ingestedAt: row.ingested_at,
});

/**
 * Records in the embedded database: one table per project (its DynamoDB table name), the
 * record's JSON text stored as sent. A put replaces the record with the same id, as
 * DynamoDB's PutItem does; a batch is one transaction, so it is stored whole or not at all.
 * Pages follow the id order.
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
    this.database.guard(() => {
      this.database.db.exec(
        `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (
           id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, source TEXT NOT NULL, ingested_at TEXT NOT NULL)`,
      );
    });
  }

  async putRecords(table: string, records: StoredRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) assertStorableRecord(record);
    const { upsert } = this.tableStatements(table);
    this.database.transaction(() => {
      for (const record of records) upsert.run(record.id, record.data, record.source, record.ingestedAt);
    });
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

  private tableStatements(table: string): TableStatements {
    let statements = this.statements.get(table);
    if (!statements) {
      const name = quoteIdentifier(table);
      statements = this.database.guard(() => ({
        upsert: this.database.db.prepare<[string, string, string, string]>(
          `INSERT INTO ${name} (id, data, source, ingested_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET data = excluded.data, source = excluded.source, ingested_at = excluded.ingested_at`,
        ),
        get: this.database.db.prepare<[string], RecordRow>(`SELECT id, data, source, ingested_at FROM ${name} WHERE id = ?`),
        first: this.database.db.prepare<[number], RecordRow>(
          `SELECT id, data, source, ingested_at FROM ${name} ORDER BY id LIMIT ?`,
        ),
        after: this.database.db.prepare<[string, number], RecordRow>(
          `SELECT id, data, source, ingested_at FROM ${name} WHERE id > ? ORDER BY id LIMIT ?`,
        ),
      }));
      this.statements.set(table, statements);
    }
    return statements;
  }
}
