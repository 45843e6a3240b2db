import type { NextFunction, Request, Response } from 'express';
import {
  MemoryStore,
  ipKeyGenerator,
  rateLimit,
  type AugmentedRequest,
  type ClientRateLimitInfo,
  type Options,
  type RateLimitRequestHandler,
  type Store,
} from 'express-rate-limit';
import type { Config } from '../../config.js';
import { LruCache } from '../../domain/lru-cache.js';
import { errors } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RateCounterStore } from '../../storage/ports.js';

type Middleware = (req: Request, res: Response, next: NextFunction) => unknown;

/** Distinct per-key windows kept at once; past it the least recently used limiter is dropped. */
const MAX_WINDOW_LIMITERS = 64;

export interface RateLimitDeps {
  config: Config['rateLimit'];
  /** Required when `config.store` is `dynamodb`. */
  counters?: RateCounterStore;
  metrics: Metrics;
  logger: Logger;
}

/** express-rate-limit's Store over the shared counters (one instance per limiter, distinct prefixes). */
class SharedCounterStore implements Store {
  readonly localKeys = false;
  private windowMs = 60_000;

  constructor(
    private readonly counters: RateCounterStore,
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const count = await this.counters.get(this.prefix + key, this.windowMs);
    return count && { totalHits: count.count, resetTime: count.resetAt };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const count = await this.counters.increment(this.prefix + key, this.windowMs);
    return { totalHits: count.count, resetTime: count.resetAt };
  }

  async decrement(key: string): Promise<void> {
    await this.counters.decrement(this.prefix + key, this.windowMs);
  }

  async resetKey(key: string): Promise<void> {
    await this.counters.reset(this.prefix + key, this.windowMs);
  }
}

/** Runs a middleware to its `next`: resolves when it passes the request on, rejects when it fails it. */
function runMiddleware(middleware: Middleware, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      Promise.resolve(middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve()))).catch(reject);
    } catch (error) {
      reject(error);
    }
  });
}

function retryAfterSeconds(req: Request, options: Options): number {
  const reset = (req as AugmentedRequest)[options.requestPropertyName]?.resetTime;
  return reset === undefined ? 1 : Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000));
}

/** The client address as a limiter key; IPv6 clients are grouped by /56, the smallest block one is usually given. */
function addressKey(req: Request): string {
  const address = req.ip ?? req.socket.remoteAddress;
  return `addr:${address === undefined ? 'unknown' : ipKeyGenerator(address, 56)}`;
}

/**
 * Rate limits, built on express-rate-limit with standard draft-8 `RateLimit` and
 * `RateLimit-Policy` headers and `429 rate_limited` + `Retry-After` in the error model:
 * - per API key, after authentication: the key's own `rateLimit`, or the configured default;
 * - failed authentications per client address: once an address has failed `requests`
 *   times in the window, every request from it that needs a credential gets 429 before
 *   its credential is even looked at, so guessing keys (or the admin token) is slow and
 *   a throttled guess cannot tell a right key from a wrong one.
 * Counters live in memory (per task) or in the shared store. When the shared store fails
 * the request goes through unlimited (logged): the limit protects the service, and a
 * storage outage already fails the requests that would touch storage.
 */
export function createRateLimits(deps: RateLimitDeps) {
  const { config, metrics, logger } = deps;
  if (config.store === 'dynamodb' && deps.counters === undefined) {
    throw new Error('INTAKE_RATE_LIMIT_STORE=dynamodb needs a storage with rate counters');
  }
  const newStore = (prefix: string): Store =>
    config.store === 'dynamodb' ? new SharedCounterStore(deps.counters!, prefix) : new MemoryStore();
  const limiterLogger = {
    warn: (error: unknown, message?: string) =>
      logger.warn(message ?? 'rate limiter warning', { event: 'rate_limit_warning', error: String(error) }),
    error: (error: unknown, message?: string) =>
      logger.error(message ?? 'rate limiter error', { event: 'rate_limit_error', error: String(error) }),
  };
  const common: Partial<Options> = {
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    passOnStoreError: true,
    logger: limiterLogger,
    validate: {
      // With INTAKE_TRUST_PROXY_HOPS=0 a client's X-Forwarded-For is ignored on purpose.
      xForwardedForHeader: false,
      // Per-key limiters for uncommon windows are created on first use, inside a request.
      creationStack: false,
    },
  };

  const authFailures = rateLimit({
    ...common,
    windowMs: config.unauthenticated.windowSeconds * 1000,
    limit: config.unauthenticated.requests,
    identifier: 'auth-failures',
    store: newStore('rl:auth:'),
    keyGenerator: addressKey,
    handler: (req, res, next, options) => {
      metrics.rateLimited.inc({ kind: 'auth_failure' });
      logger.warn('too many failed authentications', {
        event: 'rate_limited',
        kind: 'auth_failure',
        ip: req.ip,
        requestId: res.locals.requestId,
      });
      next(errors.rateLimited(retryAfterSeconds(req, options)));
    },
  });

  const perWindow = new LruCache<number, RateLimitRequestHandler & { store: Store }>({
    maxEntries: MAX_WINDOW_LIMITERS,
    onEvict: (_window, dropped) => void dropped.store.shutdown?.(),
  });
  const keyLimiter = (windowSeconds: number) => {
    let limiter = perWindow.get(windowSeconds);
    if (limiter !== undefined) return limiter;
    const store = newStore(`rl:key:${windowSeconds}:`);
    limiter = Object.assign(
      rateLimit({
        ...common,
        windowMs: windowSeconds * 1000,
        limit: (_req, res) => keySetting(res).requests,
        identifier: 'per-key',
        store,
        keyGenerator: (_req, res) => `key:${keyId(res)}`,
        handler: (req, res, next, options) => {
          metrics.rateLimited.inc({ kind: 'key' });
          logger.warn('API key over its rate limit', {
            event: 'rate_limited',
            kind: 'key',
            keyId: keyId(res),
            requestId: res.locals.requestId,
          });
          next(errors.rateLimited(retryAfterSeconds(req, options)));
        },
      }),
      { store },
    );
    perWindow.set(windowSeconds, limiter);
    return limiter;
  };
  const keyId = (res: Response) => (res.locals.principal?.kind === 'key' ? res.locals.principal.key.id : 'admin');
  const keySetting = (res: Response) =>
    (res.locals.principal?.kind === 'key' ? res.locals.principal.key.rateLimit : undefined) ?? config.perKey;

  return {
    /** 429 before any credential is looked at when the address has used up its failed attempts. */
    async refuseThrottledAddress(req: Request, res: Response): Promise<void> {
      let used: ClientRateLimitInfo | undefined;
      try {
        used = await authFailures.getKey(addressKey(req));
      } catch (error) {
        limiterLogger.error(error, 'rate limit store failed; request not throttled');
        return;
      }
      if (used !== undefined && used.totalHits >= config.unauthenticated.requests) {
        // Counts this attempt too, sets the standard headers and fails with 429.
        await runMiddleware(authFailures, req, res);
      }
    },

    /** Counts a failed authentication against the address; fails with 429 once past the limit. */
    async countFailedAttempt(req: Request, res: Response): Promise<void> {
      await runMiddleware(authFailures, req, res);
    },

    /** Counts a request made with an API key against that key's limit (429 past it). */
    async limitKey(req: Request, res: Response): Promise<void> {
      if (res.locals.principal?.kind !== 'key') return;
      await runMiddleware(keyLimiter(keySetting(res).windowSeconds), req, res);
    },
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;
