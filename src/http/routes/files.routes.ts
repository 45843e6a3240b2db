import type { Response, Router } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, errors } from '../../errors.js';
import type { ReceivedFile } from '../../ingest/file-upload.service.js';
import { mediaType, requireMediaType } from '../middleware/body.js';
import { multipartFile, type UploadedFile } from '../middleware/multipart-upload.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { fileView } from '../views/file.view.js';
import { jobView } from '../views/job.view.js';

function accepted(received: ReceivedFile) {
  return { fileId: received.fileId, jobId: received.jobId, bytes: received.bytes, sha256: received.sha256 };
}

/** `?force=true|false`: ingest a file again although its content was ingested before. Strictly a boolean. */
function forceParam(raw: unknown): boolean {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw errors.validation('force must be true or false.');
}

/** Streams a stored object to the client; a client that goes away stops the read. */
async function streamBody(res: Response, body: Readable): Promise<void> {
  try {
    await pipeline(body, res);
  } catch (error) {
    body.destroy();
    // Headers are gone: the error middleware can only cut the connection now.
    if (!res.writableEnded && !res.destroyed) throw error;
  }
}

/** File uploads (raw and multipart) and the jobs that ingest them. */
export function registerFileRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { uploads, jobs, config, metrics, cursors } = deps;
  const maxBytes = config.limits.maxFileBytes;

  router.put('/v1/projects/:projectId/files/:fileName', requireProject('files:write'), acceptParameters('force'), async (req, res) => {
    const force = forceParam(req.query.force);
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
        force,
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
    acceptParameters('force'),
    // Checked before the body is read: a bad flag costs no upload.
    (req, _res, next) => {
      forceParam(req.query.force);
      next();
    },
    requireMediaType(['multipart/form-data']),
    multipartFile(uploads, maxBytes),
    async (req, res) => {
      const stored = (req.file as UploadedFile | undefined)?.stored;
      if (!stored) throw new AppError(400, 'missing_file', 'The multipart body has no part named "file".');
      const received = await uploads.queue(res.locals.project!, stored, { force: forceParam(req.query.force) });
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

  // Listing shows what was uploaded, as the jobs do; the bytes themselves are customers'
  // rows, so downloading the original needs records:read like reading the records.
  router.get('/v1/projects/:projectId/files', requireProject('records:read', 'files:write'), acceptParameters('limit', 'cursor'), async (req, res) => {
    const project = res.locals.project!;
    const scope = `files:${project.id}`;
    const page = await uploads.catalog.list(project, pageRequest(req.query, cursors, scope));
    res.json({ items: page.items.map((job) => fileView(job, uploads.catalog.expired(job))), nextCursor: nextCursor(cursors, scope, page.next) });
  });

  router.get('/v1/projects/:projectId/files/:fileId', requireProject('records:read'), acceptParameters(), async (req, res) => {
    const file = await uploads.catalog.open(res.locals.project!, String(req.params.fileId));
    res.attachment(file.fileName);
    // setHeader, not res.set: the type goes back exactly as uploaded, without an added charset.
    res.setHeader('Content-Type', file.contentType);
    res.set({ 'Content-Length': String(file.size), 'Cache-Control': 'private, no-store' });
    await streamBody(res, file.body);
  });

  router.get('/v1/projects/:projectId/jobs/:jobId/errors', requireProject('records:read', 'files:write'), acceptParameters(), async (req, res) => {
    const project = res.locals.project!;
    const report = await uploads.catalog.openErrorReport(await jobs.get(project, String(req.params.jobId)), project);
    res.set({ 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'private, no-store' });
    if (!report) {
      res.status(200).set('Content-Length', '0').end();
      return;
    }
    res.set('Content-Length', String(report.size));
    await streamBody(res, report.body);
  });
}
