import type { RequestHandler, Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import swaggerUi from 'swagger-ui-express';
import { parse as parseYaml } from 'yaml';
import { secretMatcher } from '../../domain/api-keys.service.js';
import { errors } from '../../errors.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';

/** openapi.yaml sits at the package root, two levels above both src/http and dist/http. */
export const OPENAPI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../openapi.yaml');

export function registerSystemRoutes(router: Router, deps: RouteDeps): void {
  const openapiText = fs.readFileSync(OPENAPI_PATH, 'utf8');
  const openapiDoc = parseYaml(openapiText) as Record<string, unknown>;

  router.get('/healthz', acceptParameters(), (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', acceptParameters(), async (_req, res) => {
    if (!deps.lifecycle.accepting()) {
      res.status(503).setHeader('Retry-After', '1');
      res.json({ status: 'shutting_down', checks: [] });
      return;
    }
    const { ok, checks } = await deps.health.readiness();
    if (!ok) res.setHeader('Retry-After', '5');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', checks });
  });

  router.get('/metrics', acceptParameters(), requireMetricsToken(deps.config.metricsToken), async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  router.get('/openapi.yaml', acceptParameters(), (_req, res) => {
    res.type('application/yaml').send(openapiText);
  });

  // Swagger UI's assets come from node_modules (swagger-ui-dist), so the page works offline.
  router.use('/docs', swaggerUi.serveFiles(openapiDoc), swaggerUi.setup(openapiDoc, {
      customSiteTitle: 'Intake API',
      // No badge from validator.swagger.io: the page must not reach out to other hosts.
      swaggerOptions: { validatorUrl: null },
    }));
}

/**
 * With INTAKE_METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <token>`
 * (Prometheus' `authorization` setting), compared in constant time; unset, it stays open.
 */
function requireMetricsToken(token: string | undefined): RequestHandler {
  if (token === undefined) return (_req, _res, next) => next();
  const matches = secretMatcher(token);
  return (req, res, next) => {
    const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (presented !== undefined && matches(presented)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
    next(errors.unauthenticated('A valid metrics token is required: Authorization: Bearer <INTAKE_METRICS_TOKEN>.'));
  };
}
