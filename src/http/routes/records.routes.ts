import type { Router } from 'express';
import { parseLimit } from '../../domain/cursor.js';
import { errors } from '../../errors.js';
import type { StoredRecord } from '../../domain/model.js';
import { mediaType, rawBody, requireMediaType } from '../middleware/body.js';
import type { RouteDeps } from '../route-deps.js';

const PUSH_TYPES = ['application/json', 'application/x-ndjson', 'application/ndjson'];

/**
 * A record as JSON text, assembled from stored JSON so that numbers keep every digit
 * (JSON.parse would round integers past 2^53).
 */
function recordJson(record: StoredRecord): string {
  return `{"id":${JSON.stringify(record.id)},"data":${record.data},"source":${record.source},"ingestedAt":${JSON.stringify(record.ingestedAt)}}`;
}

export function registerRecordRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.auth;
  const { records, cursors, metrics, config } = deps;

  router.post(
    '/v1/projects/:projectId/records',
    requireProject('records:write'),
    requireMediaType(PUSH_TYPES),
    rawBody(config.limits.maxBodyBytes),
    async (req, res) => {
      const project = res.locals.project!;
      const principal = res.locals.principal!;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) throw errors.invalidBody('The request body is empty.');
      const result = await records.push({
        project,
        body,
        contentType: mediaType(req) === 'application/json' ? 'json' : 'ndjson',
        idempotencyKey: req.get('idempotency-key'),
        source: {
          keyId: principal.kind === 'key' ? principal.key.id : 'admin',
          requestId: res.locals.requestId,
        },
      });
      metrics.recordsAccepted.inc({ source: 'api' }, result.accepted);
      for (const e of result.errors) metrics.recordsRejected.inc({ source: 'api', code: e.code });
      // Sent as is: Express's res.json would also hash the body for an ETag, which means
      // nothing on the answer to a POST and cost a few percent of a small push.
      const json = JSON.stringify(result);
      res.status(200).set({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(json)) }).end(json);
    },
  );

  router.get('/v1/projects/:projectId/records', requireProject('records:read'), async (req, res) => {
    const project = res.locals.project!;
    const limit = parseLimit(req.query.limit, 100, 1, 1000);
    const rawCursor = req.query.cursor;
    if (rawCursor !== undefined && typeof rawCursor !== 'string') throw errors.invalidCursor();
    const scope = `records:${project.id}`;
    const afterId = rawCursor === undefined ? undefined : cursors.decode(scope, rawCursor);
    const page = await deps.storage.records.listRecords(project.tableName, { limit, afterId });
    const next = page.lastId === undefined ? 'null' : JSON.stringify(cursors.encode(scope, page.lastId));
    res.type('application/json').send(`{"items":[${page.items.map(recordJson).join(',')}],"nextCursor":${next}}`);
  });

  router.get('/v1/projects/:projectId/records/:recordId', requireProject('records:read'), async (req, res) => {
    const record = await records.get(res.locals.project!, String(req.params.recordId));
    res.type('application/json').send(recordJson(record));
  });
}
