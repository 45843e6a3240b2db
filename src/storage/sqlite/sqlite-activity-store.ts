import { ALERT_RETENTION_MS, INGESTED_RETENTION_MS, MAX_ALERTS_KEPT } from '../activity-retention.js';
import type { ActivityStore, AlertEvent, HourlyCount } from '../ports.js';
import type { SqliteDatabase } from './sqlite-database.js';

interface AlertRow {
  at: string;
  kind: string;
  project_id: string | null;
  message: string;
}

/**
 * The console's activity in the embedded database: one row per project and hour, added to
 * by an UPSERT (so concurrent writers never lose a count), and the newest alerts, trimmed to
 * the last MAX_ALERTS_KEPT on each insert. Hours older than the retention go on each write.
 */
export class SqliteActivityStore implements ActivityStore {
  constructor(private readonly database: SqliteDatabase) {
    database.guard(() =>
      database.db.exec(`
        CREATE TABLE IF NOT EXISTS ingested_hourly (
          hour TEXT NOT NULL, project_id TEXT NOT NULL, records INTEGER NOT NULL, PRIMARY KEY (hour, project_id));
        CREATE TABLE IF NOT EXISTS alert_events (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, project_id TEXT, message TEXT NOT NULL);
      `),
    );
  }

  async addIngested(projectId: string, hour: string, records: number): Promise<void> {
    const oldest = new Date(Date.parse(hour) - INGESTED_RETENTION_MS).toISOString();
    this.database.transaction(() => {
      this.database.statement(
        `INSERT INTO ingested_hourly (hour, project_id, records) VALUES (?, ?, ?)
         ON CONFLICT (hour, project_id) DO UPDATE SET records = records + excluded.records`,
      ).run(hour, projectId, records);
      this.database.statement('DELETE FROM ingested_hourly WHERE hour < ?').run(oldest);
    });
  }

  async ingestedSince(since: string): Promise<HourlyCount[]> {
    const rows = this.database.guard(
      () =>
        this.database
          .statement('SELECT hour, project_id, records FROM ingested_hourly WHERE hour >= ? ORDER BY hour, project_id')
          .all(since) as { hour: string; project_id: string; records: number }[],
    );
    return rows.map((row) => ({ hour: row.hour, projectId: row.project_id, records: row.records }));
  }

  async recordAlert(alert: AlertEvent): Promise<void> {
    this.database.transaction(() => {
      this.database.statement('INSERT INTO alert_events (at, kind, project_id, message) VALUES (?, ?, ?, ?)').run(
        alert.at,
        alert.kind,
        alert.projectId ?? null,
        alert.message,
      );
      this.database.statement('DELETE FROM alert_events WHERE seq <= (SELECT max(seq) FROM alert_events) - ?').run(MAX_ALERTS_KEPT);
    });
  }

  async latestAlerts(limit: number, now: number): Promise<AlertEvent[]> {
    const oldest = new Date(now - ALERT_RETENTION_MS).toISOString();
    const rows = this.database.guard(
      () =>
        this.database
          .statement('SELECT at, kind, project_id, message FROM alert_events WHERE at >= ? ORDER BY seq DESC LIMIT ?')
          .all(oldest, limit) as AlertRow[],
    );
    return rows.map((row) => ({ at: row.at, kind: row.kind, ...(row.project_id === null ? {} : { projectId: row.project_id }), message: row.message }));
  }
}
