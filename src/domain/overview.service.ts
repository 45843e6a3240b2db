import type { AlertEvent, ControlStore, RecordStore } from '../storage/ports.js';
import { LruCache } from './lru-cache.js';
import type { ProjectItem } from './model.js';

const HOUR_MS = 60 * 60 * 1000;
/** The overview's chart: the last 24 hours, the current one included. */
const HOURS_SHOWN = 24;
export const ALERTS_SHOWN = 20;
/** Projects listed at most (the console's overview is a glance, not an inventory). */
const MAX_PROJECTS = 500;
/** Jobs read per project to count running and failed ones: the newest this many. */
const JOBS_SCANNED = 1000;
/** Record counts are reused this long: a COUNT over a large SQLite table is not free. */
const COUNT_CACHE_MS = 30_000;
const PROJECT_CONCURRENCY = 8;

export interface ProjectOverview {
  id: string;
  name: string;
  records: number;
  /** False when the count is the engine's estimate (DynamoDB's, refreshed about every 6 hours). */
  recordsExact: boolean;
  jobs: { running: number; failed: number };
}

export interface Overview {
  projects: ProjectOverview[];
  ingestedPerHour: { hour: string; records: number }[];
  alerts: AlertEvent[];
}

/** The start of the hour `at` falls in, as the ISO string the activity store keys on. */
export const hourOf = (at: number): string => new Date(Math.floor(at / HOUR_MS) * HOUR_MS).toISOString();

/**
 * The console's overview, read from shared storage so every task answers the same: the
 * projects with their record counts and running/failed jobs, records ingested per hour over
 * the last 24 hours (from hourly counters bumped once per push and per job checkpoint), and
 * the latest alerts (kept in the control store when they fire, webhook or not).
 */
export class OverviewService {
  private readonly counts = new LruCache<string, { count: number; exact: boolean }>({
    maxEntries: MAX_PROJECTS,
    ttlMs: COUNT_CACHE_MS,
  });

  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps a fired alert for the console, beside (or instead of) the webhook. */
  async recordAlert(alert: AlertEvent): Promise<void> {
    await this.control.activity.recordAlert(alert);
  }

  /** Counts a push's stored records in the current hour (one write per push, not per record). */
  async countIngested(projectId: string, records: number): Promise<void> {
    if (records > 0) await this.control.activity.addIngested(projectId, hourOf(this.now()), records);
  }

  async overview(): Promise<Overview> {
    const now = this.now();
    const first = Date.parse(hourOf(now)) - (HOURS_SHOWN - 1) * HOUR_MS;
    const [projects, hourly, alerts] = await Promise.all([
      this.listProjects(),
      this.control.activity.ingestedSince(new Date(first).toISOString()),
      this.control.activity.latestAlerts(ALERTS_SHOWN, now),
    ]);
    const perHour = new Map<string, number>();
    for (const count of hourly) perHour.set(count.hour, (perHour.get(count.hour) ?? 0) + count.records);
    const ingestedPerHour = Array.from({ length: HOURS_SHOWN }, (_, i) => {
      const hour = new Date(first + i * HOUR_MS).toISOString();
      return { hour, records: perHour.get(hour) ?? 0 };
    });
    const overviews: ProjectOverview[] = new Array(projects.length);
    let next = 0;
    const worker = async () => {
      while (next < projects.length) {
        const i = next++;
        overviews[i] = await this.projectOverview(projects[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROJECT_CONCURRENCY, projects.length) }, worker));
    return { projects: overviews, ingestedPerHour, alerts };
  }

  private async listProjects(): Promise<ProjectItem[]> {
    const projects: ProjectItem[] = [];
    let after: string | undefined;
    do {
      const page = await this.control.listProjects({ limit: Math.min(100, MAX_PROJECTS - projects.length), after });
      projects.push(...page.items);
      after = page.next;
    } while (after !== undefined && projects.length < MAX_PROJECTS);
    return projects;
  }

  private async projectOverview(project: ProjectItem): Promise<ProjectOverview> {
    let count = this.counts.get(project.id);
    if (count === undefined) {
      count = await this.records.countRecords(project.tableName);
      this.counts.set(project.id, count);
    }
    const jobs = await this.control.listJobs(project.id, { limit: JOBS_SCANNED });
    return {
      id: project.id,
      name: project.name,
      records: count.count,
      recordsExact: count.exact,
      jobs: {
        running: jobs.items.filter((job) => job.status === 'running').length,
        failed: jobs.items.filter((job) => job.status === 'failed').length,
      },
    };
  }
}
