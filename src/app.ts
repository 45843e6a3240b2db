import express, { Router, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Config } from './config.js';
import { errors } from './errors.js';
import { createAuthMiddleware } from './http/middleware/auth.js';
import { errorHandler } from './http/middleware/error-handler.js';
import { corsForOrigins, slowBodyGuard } from './http/middleware/hardening.js';
import { createRateLimits } from './http/middleware/rate-limit.js';
import { requestContext } from './http/middleware/request-context.js';
import type { Lifecycle, RouteDeps } from './http/route-deps.js';
import { consoleRouter } from './http/routes/console.routes.js';
import { registerExportRoutes } from './http/routes/export.routes.js';
import { registerExportJobRoutes } from './http/routes/export-jobs.routes.js';
import { registerFileRoutes } from './http/routes/files.routes.js';
import { registerProjectRoutes } from './http/routes/projects.routes.js';
import { registerQuarantineRoutes } from './http/routes/quarantine.routes.js';
import { registerFieldCatalogRoutes } from './http/routes/field-catalog.routes.js';
import { registerModelPreviewRoutes } from './http/routes/model-preview.routes.js';
import { registerRecordRoutes } from './http/routes/records.routes.js';
import { registerSessionRoutes } from './http/routes/session.routes.js';
import { registerOverviewRoutes } from './http/routes/overview.routes.js';
import { registerSystemRoutes } from './http/routes/system.routes.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import type { Services } from './services.js';
import type { Storage } from './storage/ports.js';

export interface AppDeps {
  config: Config;
  /** Only its rate counters are used here (the shared rate-limit store); routes go through services. */
  storage: Pick<Storage, 'rateCounters'>;
  services: Services;
  logger: Logger;
  metrics: Metrics;
  adminToken: string;
  lifecycle?: Lifecycle;
}

export interface IntakeApp extends express.Express {
  /** The router holding every route, for the openapi contract test. */
  readonly routes: Router;
}

/** Builds the Express app. It never listens: the entry point (or supertest) does. */
export function createApp(deps: AppDeps): IntakeApp {
  const app = express() as IntakeApp;
  app.disable('x-powered-by');
  // req.ip honours X-Forwarded-For only across the configured number of trusted proxy hops.
  app.set('trust proxy', deps.config.trustProxyHops);
  app.set('query parser', 'simple');

  const routeDeps: RouteDeps = {
    ...deps.services,
    config: deps.config,
    logger: deps.logger,
    metrics: deps.metrics,
    lifecycle: deps.lifecycle ?? { accepting: () => true },
    guards: createAuthMiddleware({
      auth: deps.services.auth,
      sessions: deps.services.sessions,
      zeroTrust: deps.services.zeroTrust,
      limits: createRateLimits({
        config: deps.config.rateLimit,
        counters: deps.storage.rateCounters,
        metrics: deps.metrics,
        logger: deps.logger,
      }),
      logger: deps.logger,
      metrics: deps.metrics,
    }),
    audit: (req: Request, res: Response, action: string, details: Record<string, unknown>) => {
      deps.logger.info('audit', {
        event: 'audit',
        action,
        actor: res.locals.principal?.kind ?? 'anonymous',
        // Which admin: the token holder, or the person a session or zero-trust assertion names.
        admin: res.locals.principal?.kind === 'admin'
          ? { id: res.locals.principal.id, name: res.locals.principal.name, via: res.locals.principal.via }
          : undefined,
        ip: req.ip,
        requestId: res.locals.requestId,
        at: new Date().toISOString(),
        ...details,
      });
    },
  };

  app.use(requestContext(deps.logger, deps.metrics));
  app.use(
    slowBodyGuard(
      { minBytesPerSecond: deps.config.http.minBodyBytesPerSecond, windowMs: deps.config.http.bodyRateWindowMs },
      deps.logger,
    ),
  );
  app.use(
    helmet({
      // Swagger UI at /docs loads its own scripts and styles from this origin only.
      contentSecurityPolicy: {
        directives: { 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null },
      },
    }),
  );
  // CORS is off (no header at all) unless explicit origins are configured.
  if (deps.config.corsOrigins.length > 0) app.use(corsForOrigins(deps.config.corsOrigins));

  app.use(consoleRouter());
  const routes = Router();
  // The router tries routes in this order; no two patterns overlap, so the busiest (record
  // pushes and reads, uploads) come first and pay for the fewest failed matches.
  registerRecordRoutes(routes, routeDeps);
  registerExportRoutes(routes, routeDeps);
  registerExportJobRoutes(routes, routeDeps);
  registerFileRoutes(routes, routeDeps);
  registerModelPreviewRoutes(routes, routeDeps);
  registerProjectRoutes(routes, routeDeps);
  registerQuarantineRoutes(routes, routeDeps);
  registerFieldCatalogRoutes(routes, routeDeps);
  registerSystemRoutes(routes, routeDeps);
  registerSessionRoutes(routes, routeDeps);
  registerOverviewRoutes(routes, routeDeps);
  app.use(routes);
  Object.defineProperty(app, 'routes', { value: routes });

  app.use((req: Request) => {
    throw errors.routeNotFound(req.method, req.path);
  });
  app.use(errorHandler(deps.logger, [deps.adminToken]));
  return app;
}
