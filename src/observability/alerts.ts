import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobItem } from '../domain/model.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** What an incoming webhook (Slack, Mattermost, Teams' Slack-compatible hooks) accepts. */
export interface AlertMessage {
  /** The fallback every receiver shows (notifications, clients without blocks). */
  text: string;
  blocks?: AlertBlock[];
}

interface AlertText {
  type: 'mrkdwn';
  text: string;
}

type AlertBlock = { type: 'section'; text: AlertText; fields?: AlertText[] } | { type: 'context'; elements: AlertText[] };

export type AlertKind = 'job' | 'storage' | 'summary' | 'drift';

/** A storage call that failed on the storage side (not the caller's fault). */
export interface StorageFailure {
  /** `storage_unavailable`, or `internal_error:<SDK error name>`: what dedup groups by. */
  errorClass: string;
  /** The port method that failed, e.g. `records.putRecords`. */
  operation: string;
  message: string;
}

export interface AlerterOptions {
  webhookUrl: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Names this instance in messages; the host name (a Fargate task's) by default. */
  source?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  /** First retry delay; it doubles per attempt up to maxBackoffMs, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  maxQueue?: number;
  jobAlertsPerWindow?: number;
  jobWindowMs?: number;
  /** Storage alerts fire after this many failures of one class within storageWindowMs... */
  storageErrorThreshold?: number;
  storageWindowMs?: number;
  /** ...and repeat for that class at most once per storageRepeatMs. */
  storageRepeatMs?: number;
  fetch?: typeof fetch;
}

/** An alert as kept for the console (its text only). */
export interface FiredAlert {
  at: string;
  kind: AlertKind;
  projectId?: string;
  message: string;
}

interface QueuedAlert {
  kind: AlertKind;
  message: AlertMessage;
}

type PostResult = { ok: true } | { ok: false; retryable: boolean; status?: number; error?: string; retryAfterMs?: number };

const DEFAULTS = {
  timeoutMs: 5000,
  maxAttempts: 5,
  backoffMs: 1000,
  maxBackoffMs: 30_000,
  maxQueue: 100,
  jobAlertsPerWindow: 20,
  jobWindowMs: 10 * 60_000,
  storageErrorThreshold: 5,
  storageWindowMs: 60_000,
  storageRepeatMs: 15 * 60_000,
};

/** Job ids remembered for dedup; a job finishes once, so this only has to outlive retries. */
const MAX_REMEMBERED_JOBS = 10_000;

/**
 * Posts Slack-compatible alerts to INTAKE_ALERT_WEBHOOK_URL: a job that ended failed or
 * partial, storage errors that persist, and a summary of job alerts held back by the
 * per-window cap. Callers never wait: alerts go to a bounded queue that one worker drains,
 * each POST bounded by a timeout and retried with backoff. With no URL every call is a no-op.
 */
export class Alerter {
  /**
   * Told of every alert as it fires, webhook or not (the console keeps the latest). With
   * it set, the alerter decides on alerts (dedup, windows) even without a webhook URL.
   */
  onAlert?: (alert: FiredAlert) => void;
  private readonly o: Required<Omit<AlerterOptions, 'webhookUrl' | 'source' | 'fetch'>>;
  private readonly url: string | undefined;
  private readonly source: string;
  private readonly fetch: typeof fetch;
  private readonly queue: QueuedAlert[] = [];
  private worker: Promise<void> | undefined;
  private readonly closing = new AbortController();
  private closed = false;
  private readonly alertedJobs = new Set<string>();
  private jobWindow = { startedAt: 0, sent: 0, suppressed: new Map<string, number>() };
  private summaryTimer: NodeJS.Timeout | undefined;
  private readonly storageFailures = new Map<string, number[]>();
  private readonly storageAlertedAt = new Map<string, number>();

  constructor(options: AlerterOptions) {
    const { webhookUrl, source, fetch: fetchImpl, ...rest } = options;
    this.o = { ...DEFAULTS, ...definedOnly(rest) } as Alerter['o'];
    this.url = webhookUrl;
    this.source = source ?? os.hostname();
    this.fetch = fetchImpl ?? globalThis.fetch;
  }

  get enabled(): boolean {
    return this.url !== undefined;
  }

  /** Whether alerts are decided at all: for the webhook, or for whoever listens to onAlert. */
  private get active(): boolean {
    return this.enabled || this.onAlert !== undefined;
  }

  /** Alerts once per job that ended failed or partial; succeeded jobs are ignored. */
  jobFinished(job: JobItem): void {
    if (!this.active || (job.status !== 'failed' && job.status !== 'partial')) return;
    const key = `${job.projectId}/${job.id}`;
    if (this.alertedJobs.has(key)) {
      this.o.metrics.alerts.inc({ kind: 'job', outcome: 'deduplicated' });
      return;
    }
    this.alertedJobs.add(key);
    if (this.alertedJobs.size > MAX_REMEMBERED_JOBS) this.alertedJobs.delete(this.alertedJobs.values().next().value!);

    // Many files failing at once (a broken exporter) give one summary, not a flood.
    const now = Date.now();
    if (now - this.jobWindow.startedAt >= this.o.jobWindowMs) this.rollJobWindow(now);
    if (this.jobWindow.sent >= this.o.jobAlertsPerWindow) {
      const held = this.jobWindow.suppressed;
      held.set(job.projectId, (held.get(job.projectId) ?? 0) + 1);
      this.o.metrics.alerts.inc({ kind: 'job', outcome: 'suppressed' });
      this.summaryTimer ??= setTimeout(
        () => this.rollJobWindow(Date.now()),
        this.jobWindow.startedAt + this.o.jobWindowMs - now,
      ).unref();
      return;
    }
    this.jobWindow.sent++;
    this.enqueue('job', jobMessage(job, this.source), job.projectId);
  }

  /**
   * Alerts once per job that found fields new to the field catalog or known fields with a
   * new type (each field named once, however many rows carried it); the caller checks that
   * the project asked for drift alerts.
   */
  fieldDrift(job: JobItem): void {
    const fields = (job.newFields?.length ?? 0) + (job.typeChanges?.length ?? 0);
    if (!this.active || fields === 0) return;
    const key = `drift:${job.projectId}/${job.id}`;
    if (this.alertedJobs.has(key)) {
      this.o.metrics.alerts.inc({ kind: 'drift', outcome: 'deduplicated' });
      return;
    }
    this.alertedJobs.add(key);
    if (this.alertedJobs.size > MAX_REMEMBERED_JOBS) this.alertedJobs.delete(this.alertedJobs.values().next().value!);
    this.enqueue('drift', driftMessage(job, this.source), job.projectId);
  }

  /**
   * Alerts on a push that brought fields new to the field catalog or a new type: the
   * catalog reports a field new only to the first writer that brings it, so each field is
   * alerted once, not once per push; the caller checks that the project asked for it.
   */
  pushDrift(projectId: string, drift: Pick<JobItem, 'newFields' | 'typeChanges'>): void {
    if (!this.active || (drift.newFields?.length ?? 0) + (drift.typeChanges?.length ?? 0) === 0) return;
    this.enqueue('drift', driftMessage({ ...drift, projectId, id: 'push', fileName: 'records pushed through the API' }, this.source), projectId);
  }

  /** Counts a storage failure; alerts when one class of failure keeps happening. */
  storageFailed(failure: StorageFailure): void {
    if (!this.active) return;
    const now = Date.now();
    const since = now - this.o.storageWindowMs;
    const times = (this.storageFailures.get(failure.errorClass) ?? []).filter((t) => t > since);
    times.push(now);
    // Bounded however many requests fail: only the count within the window matters.
    if (times.length > 1000) times.splice(0, times.length - 1000);
    this.storageFailures.set(failure.errorClass, times);
    if (times.length < this.o.storageErrorThreshold) return;
    const last = this.storageAlertedAt.get(failure.errorClass);
    if (last !== undefined && now - last < this.o.storageRepeatMs) {
      if (times.length === this.o.storageErrorThreshold) this.o.metrics.alerts.inc({ kind: 'storage', outcome: 'deduplicated' });
      return;
    }
    this.storageAlertedAt.set(failure.errorClass, now);
    this.enqueue('storage', storageMessage(failure, times.length, this.o.storageWindowMs, this.source));
  }

  /**
   * Stops taking alerts, sends any held-back summary, and gives queued alerts up to
   * `graceMs` to go out; whatever is left then is dropped (and counted).
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.rollJobWindow(Date.now());
    this.closed = true;
    if (this.worker) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.worker, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, graceMs))))]);
      clearTimeout(timer);
    }
    this.closing.abort();
    await this.worker;
    for (const alert of this.queue.splice(0)) this.o.metrics.alerts.inc({ kind: alert.kind, outcome: 'dropped' });
  }

  private rollJobWindow(now: number): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    const held = this.jobWindow.suppressed;
    if (held.size > 0) this.enqueue('summary', summaryMessage(held, this.o.jobWindowMs, this.o.jobAlertsPerWindow, this.source));
    this.jobWindow = { startedAt: now, sent: 0, suppressed: new Map() };
  }

  private enqueue(kind: AlertKind, message: AlertMessage, projectId?: string): void {
    if (this.closed) return;
    try {
      this.onAlert?.({ at: new Date().toISOString(), kind, ...(projectId === undefined ? {} : { projectId }), message: message.text });
    } catch (error) {
      this.o.logger.warn('alert not kept for the console', { event: 'alert_record_failed', kind, error: String(error) });
    }
    if (!this.enabled) return;
    if (this.queue.length >= this.o.maxQueue) {
      // The oldest alerts name the first cause; newer ones in a full queue are echoes.
      this.o.metrics.alerts.inc({ kind, outcome: 'dropped' });
      this.o.logger.warn('alert queue full; alert dropped', { event: 'alert_dropped', kind, text: message.text.slice(0, 300) });
      return;
    }
    this.queue.push({ kind, message });
    this.startWorker();
  }

  private startWorker(): void {
    if (this.worker || this.queue.length === 0) return;
    this.worker = (async () => {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.deliver(next);
    })().finally(() => {
      this.worker = undefined;
      // An alert queued between the loop's last check and here still goes out.
      if (!this.closing.signal.aborted) this.startWorker();
    });
  }

  private async deliver(alert: QueuedAlert): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.post(alert.message);
      if (result.ok) {
        this.o.metrics.alerts.inc({ kind: alert.kind, outcome: 'sent' });
        this.o.logger.info('alert sent', { event: 'alert_sent', kind: alert.kind, attempts: attempt });
        return;
      }
      if (!result.retryable || attempt >= this.o.maxAttempts || this.closing.signal.aborted) {
        this.o.metrics.alerts.inc({ kind: alert.kind, outcome: 'failed' });
        this.o.logger.warn('alert could not be delivered', {
          event: 'alert_failed',
          kind: alert.kind,
          attempts: attempt,
          status: result.status,
          error: result.error,
          text: alert.message.text.slice(0, 300),
        });
        return;
      }
      const backoff = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      await sleep(result.retryAfterMs ?? backoff, undefined, { signal: this.closing.signal }).catch(() => undefined);
    }
  }

  private async post(message: AlertMessage): Promise<PostResult> {
    try {
      const response = await this.fetch(this.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        // A webhook that redirects elsewhere is misconfigured; do not follow it with the payload.
        redirect: 'error',
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      // Read the (short) answer so the connection can be reused.
      await response.text().catch(() => undefined);
      if (response.ok) return { ok: true };
      return {
        ok: false,
        retryable: response.status === 408 || response.status === 429 || response.status >= 500,
        status: response.status,
        retryAfterMs: retryAfterMs(response.headers.get('retry-after'), this.o.maxBackoffMs),
      };
    } catch (error) {
      // Network failures and timeouts. The message never carries the URL, which is a secret.
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.name : 'error');
      return { ok: false, retryable: true, error: String(detail).slice(0, 200) };
    }
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function retryAfterMs(header: string | null, cap: number): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(cap, Math.max(0, ms)) : undefined;
}

/** Slack's mrkdwn treats &, < and > as markup: a file name must not become a link or an @channel. */
export function escapeMrkdwn(text: string, max = 1000): string {
  const clipped = text.length > max ? `${text.slice(0, max)}…` : text;
  return clipped.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const mrkdwn = (text: string): AlertText => ({ type: 'mrkdwn', text });

function jobMessage(job: JobItem, source: string): AlertMessage {
  const verb = job.status === 'failed' ? 'failed' : 'ended partial';
  const counts = `rows read ${job.rowsRead}, stored ${job.recordsWritten}, rejected ${job.rowsRejected}`;
  const failure = job.failure ? `${job.failure.code}: ${job.failure.message}` : undefined;
  const fields = [
    mrkdwn(`*File*\n${escapeMrkdwn(job.fileName, 300)}`),
    mrkdwn(`*Job*\n\`${escapeMrkdwn(job.id)}\``),
    mrkdwn(`*Rows*\n${counts}`),
  ];
  if (failure) fields.push(mrkdwn(`*Failure*\n${escapeMrkdwn(failure, 500)}`));
  if (job.errors.length > 0) {
    const first = job.errors.slice(0, 3).map((e) => `row ${e.row}: ${e.code}`);
    fields.push(mrkdwn(`*First row errors*\n${escapeMrkdwn(first.join('\n'), 500)}`));
  }
  if (job.errorReportKey) fields.push(mrkdwn(`*Error report*\n\`${escapeMrkdwn(job.errorReportKey, 300)}\``));
  return {
    text: escapeMrkdwn(
      `Intake job ${verb} in project ${job.projectId}: ${job.fileName} (job ${job.id}; ${counts}${failure ? `; ${failure}` : ''})`,
      1500,
    ),
    blocks: [
      { type: 'section', text: mrkdwn(`*Intake job ${verb}* in project \`${escapeMrkdwn(job.projectId)}\``), fields },
      { type: 'context', elements: [mrkdwn(`${escapeMrkdwn(source, 200)} · ${new Date().toISOString()}`)] },
    ],
  };
}

function storageMessage(failure: StorageFailure, count: number, windowMs: number, source: string): AlertMessage {
  const summary = `${count} storage errors of class ${failure.errorClass} in the last ${Math.round(windowMs / 1000)} s`;
  return {
    text: escapeMrkdwn(`Intake storage errors persist: ${summary}; latest in ${failure.operation}: ${failure.message}`, 1500),
    blocks: [
      { type: 'section', text: mrkdwn(`*Intake storage errors persist*: ${escapeMrkdwn(summary)}`) },
      {
        type: 'section',
        text: mrkdwn(`Latest in \`${escapeMrkdwn(failure.operation)}\`: ${escapeMrkdwn(failure.message, 500)}`),
      },
      { type: 'context', elements: [mrkdwn(`${escapeMrkdwn(source, 200)} · ${new Date().toISOString()}`)] },
    ],
  };
}

function driftMessage(job: Pick<JobItem, 'projectId' | 'id' | 'fileName' | 'newFields' | 'typeChanges'>, source: string): AlertMessage {
  const added = job.newFields ?? [];
  const changed = (job.typeChanges ?? []).map((c) => `${c.field}: ${c.knownTypes.join('|')} → ${c.newTypes.join('|')}`);
  const fields = [mrkdwn(`*File*\n${escapeMrkdwn(job.fileName, 300)}`), mrkdwn(`*Job*\n\`${escapeMrkdwn(job.id)}\``)];
  if (added.length > 0) fields.push(mrkdwn(`*New fields*\n${escapeMrkdwn(added.join('\n'), 1000)}`));
  if (changed.length > 0) fields.push(mrkdwn(`*Type changes*\n${escapeMrkdwn(changed.join('\n'), 1000)}`));
  const counts = `${added.length} new field(s), ${changed.length} type change(s)`;
  return {
    text: escapeMrkdwn(`Intake field drift in project ${job.projectId}: ${job.fileName} (job ${job.id}; ${counts})`, 1500),
    blocks: [
      { type: 'section', text: mrkdwn(`*Intake field drift* in project \`${escapeMrkdwn(job.projectId)}\``), fields },
      { type: 'context', elements: [mrkdwn(`${escapeMrkdwn(source, 200)} · ${counts}`)] },
    ],
  };
}

function summaryMessage(held: Map<string, number>, windowMs: number, cap: number, source: string): AlertMessage {
  const total = [...held.values()].reduce((a, b) => a + b, 0);
  const byProject = [...held.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([project, n]) => `${project}: ${n}`)
    .join(', ');
  const text =
    `Intake: ${total} more jobs ended failed or partial without an alert of their own ` +
    `(limit ${cap} per ${Math.round(windowMs / 60_000)} min). By project: ${byProject}. ` +
    'List them with GET /v1/projects/{id}/jobs or find event "job_finished" in the logs.';
  return {
    text: escapeMrkdwn(text, 1500),
    blocks: [
      { type: 'section', text: mrkdwn(escapeMrkdwn(text, 2500)) },
      { type: 'context', elements: [mrkdwn(`${escapeMrkdwn(source, 200)} · ${new Date().toISOString()}`)] },
    ],
  };
}
