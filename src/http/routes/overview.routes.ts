import type { Router } from 'express';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';

/** The console's overview page in one call (admin). */
export function registerOverviewRoutes(router: Router, deps: RouteDeps): void {
  const { requireAdmin } = deps.guards;
  router.get('/v1/overview', requireAdmin, acceptParameters(), async (_req, res) => {
    res.json(await deps.overview.overview());
  });
}
