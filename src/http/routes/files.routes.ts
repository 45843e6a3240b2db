import type { Router } from 'express';
import { parseLimit } from '../../domain/cursor.js';
import { AppError, errors } from '../../errors.js';
import { jobView } from '../../ingest/jobs.js';
import type { ReceivedFile } from '../../ingest/file-upload.service.js';
import { mediaType, requireMediaType } from '../middleware/body.js';
import { multipartFile, type UploadedFile } from '../middleware/multipart-upload.js';
import type { RouteDeps } from '../route-deps.js';

function accepted(received: ReceivedFile) {
  return { fileId: received.fileId, jobId: received.jobId, bytes: received.bytes, sha256: received.sha256 };
}

/** File uploads (raw and multipart) and the jobs that ingest them. */
export function registerFileRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.auth;
  const { uploads, config, metrics, cursors } = deps;
  const maxBytes = config.limits.maxFileBytes;

  router.put('/v1/projects/:projectId/files/:fileName', requireProject('files:write'), async (req, res) => {
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
  router.get('/v1/projects/:projectId/jobs', requireProject('records:read', 'files:write'), async (req, res) => {
    const project = res.locals.project!;
    const limit = parseLimit(req.query.limit, 100, 1, 1000);
    const rawCursor = req.query.cursor;
    if (rawCursor !== undefined && typeof rawCursor !== 'string') throw errors.invalidCursor();
    const scope = `jobs:${project.id}`;
    const after = rawCursor === undefined ? undefined : cursors.decode(scope, rawCursor);
    const page = await deps.storage.control.listJobs(project.id, { limit, after });
    res.json({
      items: page.items.map(jobView),
      nextCursor: page.next === undefined ? null : cursors.encode(scope, page.next),
    });
  });

  router.get('/v1/projects/:projectId/jobs/:jobId', requireProject('records:read', 'files:write'), async (req, res) => {
    const jobId = String(req.params.jobId);
    const job = jobId.length <= 64 ? await deps.storage.control.getJob(res.locals.project!.id, jobId) : null;
    if (!job) throw errors.jobNotFound(jobId);
    res.json(jobView(job));
  });
}
