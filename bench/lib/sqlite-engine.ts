// The embedded engine as a ceiling opens it: Intake's own SQLite database and record store
// on a file of the bench's choosing, with the settings the server uses by default (the
// bench starts the server without any INTAKE_* setting), in a process of its own.
import { loadConfig } from '../../src/config.js';
import { SqliteDatabase } from '../../src/storage/sqlite/sqlite-database.js';
import { SqliteRecordStore } from '../../src/storage/sqlite/sqlite-record-store.js';

export interface SqliteEngine {
  records: SqliteRecordStore;
  close(): void;
}

export function openSqliteEngine(file: string): SqliteEngine {
  const database = SqliteDatabase.open(file, loadConfig({}).embedded);
  return { records: new SqliteRecordStore(database), close: () => database.close() };
}
