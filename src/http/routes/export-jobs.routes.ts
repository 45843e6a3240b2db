import type { Response, Router } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportJobBodySchema, parseExportJobRequest, type ExportJob } from '../../export/export-job.js';
import { MANIFEST_NAME } from '../../export/export-jobs.service.js';
import { jsonBody } from '../middleware/body.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { validate } from '../validation.js';
import { exportJobView } from '../views/export-job.view.js';

async function streamBody(res: Response, body: Readable): Promise<void> {
  try {
    await pipeline(body, res);
  } catch (error) {
    body.destroy();
    // Past the headers the error middleware can only cut the connection.
    if (!res.writableEnded && !res.destroyed) throw error;
  }
}

function contentTypeOf(name: string): string {
  if (name === MANIFEST_NAME) return 'application/json';
  if (name.endsWith('.gz')) return 'application/gzip';
  if (name.endsWith('.parquet')) return 'application/vnd.apache.parquet';
  return name.endsWith('.csv') ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
}

/** Export jobs: NDJSON, CSV or Parquet parts and a manifest written into the project bucket. */
export function registerExportJobRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { exportJobs, cursors } = deps;
  const view = (job: ExportJob) => exportJobView(job, exportJobs.expiresAt(job));

  router.post('/v1/projects/:projectId/exports', requireProject('records:read'), acceptParameters(), ...jsonBody(), async (req, res) => {
    const project = res.locals.project!;
    const request = parseExportJobRequest(validate(exportJobBodySchema, req.body));
    const job = await exportJobs.create(project, request);
    deps.audit(req, res, 'export.create', { projectId: project.id, exportId: job.id, format: job.format });
    res.status(202).location(`/v1/projects/${project.id}/exports/${job.id}`).json(view(job));
  });

  router.get('/v1/projects/:projectId/exports', requireProject('records:read'), acceptParameters('limit', 'cursor'), async (req, res) => {
    const project = res.locals.project!;
    const scope = `exports:${project.id}`;
    const page = await exportJobs.list(project, pageRequest(req.query, cursors, scope));
    res.json({ items: page.items.map(view), nextCursor: nextCursor(cursors, scope, page.next) });
  });

  router.get('/v1/projects/:projectId/exports/:exportId', requireProject('records:read'), acceptParameters(), async (req, res) => {
    res.json(view(await exportJobs.get(res.locals.project!, String(req.params.exportId))));
  });

  router.get('/v1/projects/:projectId/exports/:exportId/files/:name', requireProject('records:read'), acceptParameters(), async (req, res) => {
    const name = String(req.params.name);
    const file = await exportJobs.openFile(res.locals.project!, String(req.params.exportId), name);
    res.attachment(name);
    res.setHeader('Content-Type', contentTypeOf(name));
    res.set('Cache-Control', 'private, no-store');
    if (file.bytes !== undefined) res.set('Content-Length', String(file.bytes));
    await streamBody(res, file.body);
  });
}
