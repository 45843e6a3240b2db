import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Services } from '../services.js';
import type { AuthMiddleware } from './middleware/auth.js';

export interface Lifecycle {
  /** False once shutdown has begun: /readyz answers 503 so the load balancer drains this task. */
  accepting(): boolean;
}

/** What the routes are given: the domain services, never the storage behind them. */
export interface RouteDeps extends Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Route guards: `requireAdmin`, `requireProject(...scopes)`. */
  guards: AuthMiddleware;
  audit: (req: Request, res: Response, action: string, details: Record<string, unknown>) => void;
}
