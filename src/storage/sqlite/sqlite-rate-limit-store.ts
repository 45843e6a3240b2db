import type { RateCount, RateCounterStore } from '../ports.js';
import { rateWindow } from '../rate-window.js';
import type { SqliteDatabase } from './sqlite-database.js';

/** How often counters of ended windows are deleted. */
const SWEEP_EVERY_MS = 60_000;

/** Rate-limit counters in the embedded database: one row per key and fixed window. */
export class SqliteRateLimitStore implements RateCounterStore {
  private lastSweep = 0;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  async increment(key: string, windowMs: number): Promise<RateCount> {
    const { counterKey, resetAt } = rateWindow(key, windowMs, this.now());
    this.sweepEndedWindows();
    const row = this.database.guard(
      () =>
        this.database
          .statement(
            `INSERT INTO rate_counters (key, hits, expires_at) VALUES (?, 1, ?)
             ON CONFLICT (key) DO UPDATE SET hits = hits + 1 RETURNING hits`,
          )
          .get(counterKey, resetAt.getTime()) as { hits: number },
    );
    return { count: row.hits, resetAt };
  }

  async decrement(key: string, windowMs: number): Promise<void> {
    const { counterKey } = rateWindow(key, windowMs, this.now());
    this.database.guard(() =>
      this.database.statement('UPDATE rate_counters SET hits = hits - 1 WHERE key = ? AND hits > 0').run(counterKey),
    );
  }

  async get(key: string, windowMs: number): Promise<RateCount | undefined> {
    const { counterKey, resetAt } = rateWindow(key, windowMs, this.now());
    const row = this.database.guard(
      () => this.database.statement('SELECT hits FROM rate_counters WHERE key = ?').get(counterKey) as { hits: number } | undefined,
    );
    return row === undefined ? undefined : { count: row.hits, resetAt };
  }

  async reset(key: string, windowMs: number): Promise<void> {
    const { counterKey } = rateWindow(key, windowMs, this.now());
    this.database.guard(() => this.database.statement('UPDATE rate_counters SET hits = 0 WHERE key = ?').run(counterKey));
  }

  private sweepEndedWindows(): void {
    const now = this.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    this.database.guard(() => this.database.statement('DELETE FROM rate_counters WHERE expires_at <= ?').run(now));
  }
}
