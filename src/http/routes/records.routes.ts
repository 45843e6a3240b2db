import type { Router } from 'express';
import type { Principal } from '../../domain/auth.service.js';
import { isKeyed } from '../../domain/record-model.js';
import { errors } from '../../errors.js';
import { mediaType, rawBody, requireMediaType } from '../middleware/body.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters, assertKnownParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { recordJson, recordPageJson } from '../views/record.view.js';

const PUSH_TYPES = ['application/json', 'application/x-ndjson', 'application/ndjson'];

export function registerRecordRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { quarantine } = deps;
  const { records, cursors, metrics, config, audit } = deps;
  const { overview, logger } = deps;

  router.post(
    '/v1/projects/:projectId/records',
    requireProject('records:write'),
    acceptParameters(),
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
      // Every refused record is kept with its text, whatever refused it.
      await quarantine.keepPushRejections(
        project,
        {
          body,
          contentType: mediaType(req) === 'application/json' ? 'json' : 'ndjson',
          idempotencyKey: req.get('idempotency-key'),
          source: { keyId: principal.kind === 'key' ? principal.key.id : 'admin', requestId: res.locals.requestId },
        },
        result.errors,
      );
      metrics.recordsAccepted.inc({ source: 'api' }, result.accepted);
      // The console's hourly chart: one counter write per push, whatever its size. The records
      // are stored already: a failed count must not fail the push (a retry could duplicate it).
      await overview.countIngested(project.id, result.accepted).catch((error: unknown) =>
        logger.warn('ingest counter not updated', { event: 'activity_count_failed', projectId: project.id, error: String(error) }),
      );
      for (const e of result.errors) metrics.recordsRejected.inc({ source: 'api', code: e.code });
      // Drift as jobs count it: each field once, by the write that brought it to the catalog.
      if (result.newFields?.length) metrics.fieldDrift.inc({ kind: 'new_field' }, result.newFields.length);
      if (result.typeChanges?.length) metrics.fieldDrift.inc({ kind: 'type_change' }, result.typeChanges.length);
      // Sent as is: Express's res.json would also hash the body for an ETag, which means
      // nothing on the answer to a POST and cost a few percent of a small push.
      const json = JSON.stringify(result);
      res.status(200).set({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(json)) }).end(json);
    },
  );

  const listParameters = acceptParameters('limit', 'cursor', 'provenance', 'where.<field>', 'where.<field>.prefix');
  router.get('/v1/projects/:projectId/records', requireProject('records:read'), listParameters, async (req, res) => {
    const project = res.locals.project!;
    const provenance = provenanceParam(req.query.provenance);
    const filter = records.whereFilter(project, req.query as Record<string, unknown>);
    // A cursor is bound to its listing, filter included: one from another filter is refused.
    const scope = filter === undefined ? `records:${project.id}` : `records:${project.id}:${filter.scope}`;
    const { limit, after } = pageRequest(req.query, cursors, scope);
    const page =
      filter === undefined ? await records.list(project, { limit, afterId: after }) : await records.listWhere(project, filter, { limit, after });
    res.type('application/json').send(recordPageJson(page.items, nextCursor(cursors, scope, page.lastId), { provenance }));
  });

  // Before /records/:recordId, which would otherwise take "by-key" for an id.
  router.get('/v1/projects/:projectId/records/by-key', requireProject('records:read'), async (req, res) => {
    const project = res.locals.project!;
    // The key fields are the project's own, so the accepted names are known only here. A
    // project without a customer key is told so by the lookup, whatever it was asked.
    if (isKeyed(project.model)) assertKnownParameters(req.query, [...project.model.key.fields, 'provenance']);
    const record = await records.getByKey(project, req.query as Record<string, unknown>, ['provenance']);
    res.type('application/json').send(recordJson(record, { provenance: provenanceParam(req.query.provenance) }));
  });

  // Before /records/:recordId, as the lookup is. The answer counts what went, never the values.
  router.delete('/v1/projects/:projectId/records/by-key', requireProject('records:write'), async (req, res) => {
    const project = res.locals.project!;
    if (isKeyed(project.model)) assertKnownParameters(req.query, project.model.key.fields);
    const erased = await records.eraseByKey(project, req.query as Record<string, unknown>);
    audit(req, res, 'customer_erased', { projectId: project.id, recordId: erased.recordId, keyId: keyIdOf(res.locals.principal) });
    res.json(erased);
  });

  router.delete('/v1/projects/:projectId/records/:recordId', requireProject('records:write'), acceptParameters(), async (req, res) => {
    const project = res.locals.project!;
    const removed = await records.delete(project, String(req.params.recordId));
    audit(req, res, 'record_deleted', { projectId: project.id, recordId: removed.id, keyId: keyIdOf(res.locals.principal) });
    res.status(204).end();
  });

  router.get('/v1/projects/:projectId/records/:recordId', requireProject('records:read'), acceptParameters('provenance'), async (req, res) => {
    const record = await records.get(res.locals.project!, String(req.params.recordId));
    res.type('application/json').send(recordJson(record, { provenance: provenanceParam(req.query.provenance) }));
  });
}

const keyIdOf = (principal: Principal | undefined) => (principal?.kind === 'key' ? principal.key.id : 'admin');

/** `?provenance=true|false`; anything else is refused rather than read as false. */
function provenanceParam(raw: unknown): boolean {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw errors.validation('provenance must be true or false.');
}
