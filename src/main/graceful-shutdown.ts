import type { Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/logger.js';

export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  /** The whole stop, signal to exit, must fit in this (INTAKE_SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long the listener stays open after /readyz turns 503 (INTAKE_SHUTDOWN_DRAIN_DELAY_MS). */
  drainDelayMs: number;
  /** Turns /readyz to 503. */
  stopAccepting(): void;
  /** Background work that checkpoints and lets go of its leases (the poller). */
  stopWork(): Promise<void>;
  /** Runs once requests and work are done: flush alerts within `remainingMs`, close storage. */
  closeResources(remainingMs: number): Promise<void>;
  exit?: (code: number) => void;
}

/**
 * The stop sequence on SIGTERM/SIGINT: /readyz answers 503 at once; the listener closes
 * after the drain delay; in-flight requests (uploads included) finish, and every response
 * from then on carries `Connection: close` so keep-alive clients cannot hold the process
 * open; the poller checkpoints and releases its leases meanwhile. Connections still open
 * shortly before the deadline are cut, and at the deadline the process exits regardless.
 */
export class GracefulShutdown {
  private readonly inFlight = new Set<ServerResponse>();
  private stopping = false;

  constructor(private readonly options: ShutdownOptions) {
    options.server.on('request', (_req, res: ServerResponse) => {
      this.inFlight.add(res);
      res.once('close', () => this.inFlight.delete(res));
      if (this.stopping) closeAfterResponse(res);
    });
  }

  /** Installs the signal handlers; a second signal while stopping changes nothing. */
  listen(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    for (const signal of signals) process.on(signal, () => void this.stop(signal));
  }

  async stop(signal: string): Promise<void> {
    const { logger, server, timeoutMs } = this.options;
    const exit = this.options.exit ?? ((code: number) => process.exit(code));
    if (this.stopping) {
      logger.info('shutdown already in progress', { event: 'shutdown_signal_ignored', signal });
      return;
    }
    this.stopping = true;
    const startedAt = Date.now();
    this.options.stopAccepting();
    for (const res of this.inFlight) closeAfterResponse(res);
    // The drain delay is bounded so the requests and jobs keep most of the time budget.
    const drainDelayMs = Math.min(this.options.drainDelayMs, Math.floor(timeoutMs / 2));
    logger.info('shutting down', {
      event: 'shutdown_started',
      signal,
      inFlightRequests: this.inFlight.size,
      timeoutMs,
      drainDelayMs,
    });

    let forced = 0;
    const forceAt = timeoutMs - Math.min(5000, Math.floor(timeoutMs / 5));
    const forceTimer = setTimeout(() => {
      forced = this.inFlight.size;
      logger.warn('requests still running near the shutdown deadline; closing their connections', {
        event: 'shutdown_forcing',
        inFlightRequests: forced,
      });
      server.closeAllConnections();
    }, forceAt);
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      logger.error('shutdown timed out; exiting', { event: 'shutdown_timeout', elapsedMs: Date.now() - startedAt });
      void flushLogger(logger, 500).finally(() => exit(1));
    }, timeoutMs);

    // A step that fails is logged and the stop goes on: the rest still has to happen.
    const work = this.options.stopWork().catch((error: unknown) => logStepFailure(logger, 'stop background work', error));
    if (drainDelayMs > 0) await sleep(drainDelayMs);
    await Promise.all([this.closeHttp(), work]);
    clearTimeout(forceTimer);
    if (timedOut) return;
    await this.options
      .closeResources(Math.max(0, timeoutMs - (Date.now() - startedAt) - 1000))
      .catch((error: unknown) => logStepFailure(logger, 'close resources', error));
    if (timedOut) return;
    clearTimeout(deadline);
    logger.info('stopped', { event: 'stopped', signal, durationMs: Date.now() - startedAt, connectionsCut: forced });
    await flushLogger(logger, 2000);
    exit(0);
  }

  /** Stops accepting connections and resolves once every open one has ended. */
  private closeHttp(): Promise<void> {
    const { server, logger } = this.options;
    return new Promise((resolve) => {
      // A connection that finishes its last request after this point turns idle only
      // then; the sweep closes it instead of waiting out keepAliveTimeout.
      const sweep = setInterval(() => server.closeIdleConnections(), 250);
      server.close((error) => {
        clearInterval(sweep);
        if (error) logger.warn('server close reported an error', { error: error.message });
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

function logStepFailure(logger: Logger, step: string, error: unknown): void {
  logger.error('shutdown step failed', { event: 'shutdown_step_failed', step, error: error instanceof Error ? error.message : String(error) });
}

function closeAfterResponse(res: ServerResponse): void {
  // Node ends the connection after a response that says so, keep-alive or not.
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

export function flushLogger(logger: Logger, boundMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, boundMs);
    logger.once('finish', () => {
      clearTimeout(timer);
      resolve();
    });
    logger.end();
  });
}
