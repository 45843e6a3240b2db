import type { Router } from 'express';
import { z } from 'zod';
import { errors } from '../../errors.js';
import type { QuarantineFilter } from '../../quality/quarantine/quarantine-entry.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { quarantineEntryView } from '../views/quarantine.view.js';
import { jobView } from '../views/job.view.js';
import { jsonBody } from '../middleware/body.js';
import { validate } from '../validation.js';

/** Which rows a replay takes: all, or those of one job, of one code, or both. */
const replayFilterSchema = z
  .object({ jobId: z.string().min(1).max(200).optional(), code: z.string().min(1).max(200).optional() })
  .strict();

export function registerQuarantineRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject, requireAdmin } = deps.guards;
  const { quarantine, projects, cursors } = deps;

  router.get(
    '/v1/projects/:projectId/quarantine',
    requireProject('records:read'),
    acceptParameters('limit', 'cursor', 'jobId', 'code'),
    async (req, res) => {
      const project = res.locals.project!;
      const filter = filterOf(req.query);
      // A cursor is bound to its listing, filters included.
      const scope = `quarantine:${project.id}:${filter.jobId ?? ''}:${filter.code ?? ''}`;
      const page = await quarantine.list(project, filter, pageRequest(req.query, cursors, scope));
      res.json({ items: page.items.map(quarantineEntryView), nextCursor: nextCursor(cursors, scope, page.next) });
    },
  );

  // Before /quarantine/:entryId's methods; POST is this route's alone.
  router.post(
    '/v1/projects/:projectId/quarantine/replay',
    requireProject('records:write'),
    acceptParameters(),
    ...jsonBody(),
    async (req, res) => {
      const project = res.locals.project!;
      const filter = validate(replayFilterSchema, req.body);
      const job = await quarantine.replay(project, filter);
      deps.audit(req, res, 'quarantine.replay', { projectId: project.id, jobId: job.id, ...filter });
      res.status(202).location(`/v1/projects/${project.id}/jobs/${job.id}`).json(jobView(job));
    },
  );

  // By filter (at least one: clearing a whole quarantine by mistake is not undone), bounded
  // per call; the answer's `more` asks the caller to repeat.
  router.delete('/v1/projects/:projectId/quarantine', requireAdmin, acceptParameters('jobId', 'code'), async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    const filter = filterOf(req.query);
    if (filter.jobId === undefined && filter.code === undefined) {
      throw errors.validation('Name the entries to delete with jobId, code or both; delete one entry with DELETE .../quarantine/{entryId}.');
    }
    const result = await quarantine.deleteMatching(project, filter);
    deps.audit(req, res, 'quarantine.delete_matching', { projectId: project.id, ...filter, deleted: result.deleted });
    res.json(result);
  });

  router.delete('/v1/projects/:projectId/quarantine/:entryId', requireAdmin, acceptParameters(), async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    const entryId = String(req.params.entryId);
    await quarantine.delete(project, entryId);
    deps.audit(req, res, 'quarantine.delete', { projectId: project.id, entryId });
    res.status(204).end();
  });
}

/** `?jobId=&code=`: each at most once and not empty. */
function filterOf(query: Record<string, unknown>): QuarantineFilter {
  const filter: QuarantineFilter = {};
  for (const name of ['jobId', 'code'] as const) {
    const raw = query[name];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > 200) {
      throw errors.validation(`${name} must be given once, with a value of 1 to 200 characters.`);
    }
    filter[name] = raw;
  }
  return filter;
}
