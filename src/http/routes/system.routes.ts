import type { Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import swaggerUi from 'swagger-ui-express';
import { parse as parseYaml } from 'yaml';
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

  router.get('/metrics', acceptParameters(), async (_req, res) => {
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
