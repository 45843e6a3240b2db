import type { Router } from 'express';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { catalogFieldView } from '../views/field-catalog.view.js';

export function registerFieldCatalogRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { catalog, cursors } = deps;

  router.get('/v1/projects/:projectId/fields', requireProject('records:read'), acceptParameters('limit', 'cursor'), async (req, res) => {
    const project = res.locals.project!;
    const scope = `fields:${project.id}`;
    const page = await catalog.list(project, pageRequest(req.query, cursors, scope));
    res.json({ items: page.items.map(catalogFieldView), nextCursor: nextCursor(cursors, scope, page.next) });
  });
}
