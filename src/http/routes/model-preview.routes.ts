import type { Router } from 'express';
import { decodeUtf8, parseJsonExact, toJsonText } from '../../domain/json-text.js';
import { rawBody, requireMediaType } from '../middleware/body.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';

/** Sample records to preview: up to 1,000 records of up to 400 KiB is more than anyone reads in one go. */
const PREVIEW_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * POST /v1/projects/{projectId}/model/preview: the saved model, or a draft, on sample
 * records or the first rows of an uploaded file; stores nothing. Admin only, like the
 * model it previews: it shows any stored customer's existence and a file's content.
 */
export function registerModelPreviewRoutes(router: Router, deps: RouteDeps): void {
  const { requireAdmin } = deps.guards;
  const { projects, previews, config } = deps;
  router.post(
    '/v1/projects/:projectId/model/preview',
    requireAdmin,
    acceptParameters(),
    requireMediaType(['application/json']),
    rawBody(PREVIEW_BODY_LIMIT),
    async (req, res) => {
      const project = await projects.fresh(String(req.params.projectId));
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // Parsed exactly: sample numbers keep every digit, as pushed records do.
      const body = raw.length === 0 ? {} : parseJsonExact(decodeUtf8(raw), config.limits.maxJsonDepth);
      const result = await previews.preview(project, body);
      const json = toJsonText(result);
      res.status(200).set({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(json)) }).end(json);
    },
  );
}
