import type { Router } from 'express';
import { AppError, errors } from '../../errors.js';
import type { ReceivedFile } from '../../ingest/file-upload.service.js';
import { mediaType, requireMediaType } from '../middleware/body.js';
import { multipartFile, type UploadedFile } from '../middleware/multipart-upload.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { jobView } from '../views/job.view.js';

function accepted(received: ReceivedFile) {
  return { fileId: received.fileId, jobId: received.jobId, bytes: received.bytes, sha256: received.sha256 };
}

/** File uploads (raw and multipart) and the jobs that ingest them. */
export function registerFileRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { uploads, jobs, config, metrics, cursors } = deps;
  const maxBytes = config.limits.maxFileBytes;

  router.put('/v1/projects/:projectId/files/:fileName', requireProject('files:write'), acceptParameters(), async (req, res) => {
    const declared = Number(req.get('content-length'));
    // Refuse before reading a byte when the client says up front that it is too large.
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.setHeader('Connection', 'close');
      throw errors.payloadTooLarge(maxBytes);
    }
    const abort = new AbortController();
    req.once('close', () => {
      if (!req.complete) abort.abort(new AppError(400, 'request_aborted', 'The client went away mid-upload.'));
    });
    try {
      const received = await uploads.receive({
        project: res.locals.project!,
        fileName: String(req.params.fileName),
        body: req,
        contentType: mediaType(req) || undefined,
        signal: abort.signal,
      });
      metrics.uploadBytes.inc(received.bytes);
      res.status(202).location(`/v1/projects/${res.locals.project!.id}/jobs/${received.jobId}`).json(accepted(received));
    } catch (error) {
      // Stop reading a body we refused (size limit) rather than draining gigabytes.
      if (!req.complete) res.setHeader('Connection', 'close');
      throw error;
    }
  });

  router.post(
    '/v1/projects/:projectId/files',
    requireProject('files:write'),
    acceptParameters(),
    requireMediaType(['multipart/form-data']),
    multipartFile(uploads, maxBytes),
    async (req, res) => {
      const stored = (req.file as UploadedFile | undefined)?.stored;
      if (!stored) throw new AppError(400, 'missing_file', 'The multipart body has no part named "file".');
      const received = await uploads.queue(res.locals.project!, stored);
      metrics.uploadBytes.inc(received.bytes);
      res.status(202).location(`/v1/projects/${res.locals.project!.id}/jobs/${received.jobId}`).json(accepted(received));
    },
  );

  // A key that may upload may also follow the jobs of its uploads.
  router.get('/v1/projects/:projectId/jobs', requireProject('records:read', 'files:write'), acceptParameters('limit', 'cursor'), async (req, res) => {
    const project = res.locals.project!;
    const scope = `jobs:${project.id}`;
    const page = await jobs.list(project, pageRequest(req.query, cursors, scope));
    res.json({ items: page.items.map(jobView), nextCursor: nextCursor(cursors, scope, page.next) });
  });

  router.get('/v1/projects/:projectId/jobs/:jobId', requireProject('records:read', 'files:write'), acceptParameters(), async (req, res) => {
    res.json(jobView(await jobs.get(res.locals.project!, String(req.params.jobId))));
  });
}
