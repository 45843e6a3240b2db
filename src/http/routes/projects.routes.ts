import type { Router } from 'express';
import { z } from 'zod';
import { isValidRange } from '../../domain/ip-allowlist.js';
import { PROJECT_ID_PATTERN } from '../../domain/projects.service.js';
import { errors } from '../../errors.js';
import { ALL_SCOPES, type ApiKeyItem } from '../../domain/model.js';
import { modelRules } from '../../domain/record-model.js';
import { jsonBody } from '../middleware/body.js';
import { nextCursor, pageRequest } from '../paging.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';
import { displayName, validate } from '../validation.js';
import { deletingProjectView, keyView, modelView, projectView } from '../views/project.view.js';

/** Addresses or CIDRs, IPv4 or IPv6; refused whole (400) when any entry is invalid. */
const allowedIpsSchema = z
  .array(z.string().max(64).refine(isValidRange, 'must be an IPv4 or IPv6 address or CIDR'))
  .max(100);

const createProjectSchema = z.strictObject({ id: z.string(), name: displayName, allowedIps: allowedIpsSchema.optional() });

/** What a project may change: its name and its allowlist (`[]` clears it); at least one of them. */
const updateProjectSchema = z
  .strictObject({ name: displayName.optional(), allowedIps: allowedIpsSchema.optional() })
  .refine((body) => body.name !== undefined || body.allowedIps !== undefined, 'give name, allowedIps or both');

const createKeySchema = z.strictObject({
  name: displayName,
  scopes: z
    .array(z.enum(ALL_SCOPES as unknown as [string, ...string[]]))
    .min(1)
    .refine((s) => new Set(s).size === s.length, 'must not repeat a scope')
    .optional(),
  allowedIps: allowedIpsSchema.optional(),
  expiresAt: z.iso
    .datetime({ offset: true })
    .refine((s) => Date.parse(s) > Date.now(), 'must be in the future')
    .optional(),
  rateLimit: z
    .strictObject({
      requests: z.number().int().min(1).max(1_000_000),
      windowSeconds: z.number().int().min(1).max(86_400),
    })
    .optional(),
});

/** Admin routes: projects and their API keys. */
export function registerProjectRoutes(router: Router, deps: RouteDeps): void {
  const { requireAdmin } = deps.guards;
  const { projects, keys, models, cursors, audit, jobs, deletions } = deps;

  router.post('/v1/projects', requireAdmin, acceptParameters(), ...jsonBody(), async (req, res) => {
    const body = validate(createProjectSchema, req.body);
    if (!PROJECT_ID_PATTERN.test(body.id)) throw errors.invalidProjectId(body.id);
    const project = await projects.create(body);
    audit(req, res, 'project_created', { projectId: project.id, allowedIps: project.allowedIps ?? [] });
    res.status(201).location(`/v1/projects/${project.id}`).json(projectView(project));
  });

  router.get('/v1/projects', requireAdmin, acceptParameters('limit', 'cursor'), async (req, res) => {
    const { limit, after } = pageRequest(req.query, cursors, 'projects');
    const page = await projects.list(limit, after);
    res.json({ items: page.items.map(projectView), nextCursor: nextCursor(cursors, 'projects', page.next) });
  });

  router.get('/v1/projects/:projectId', requireAdmin, acceptParameters(), async (req, res) => {
    const project = await projects.describe(String(req.params.projectId));
    if (project.deletion === undefined) {
      res.json(projectView(project));
      return;
    }
    // While it is being deleted the admin can follow the job here (the project's own routes answer 409).
    const job = await jobs.get(project, project.deletion.jobId).catch(() => undefined);
    res.json(deletingProjectView(project, job));
  });

  router.patch('/v1/projects/:projectId', requireAdmin, acceptParameters(), ...jsonBody(), async (req, res) => {
    const id = String(req.params.projectId);
    const body = validate(updateProjectSchema, req.body);
    const project = await projects.update(id, body);
    audit(req, res, 'project_updated', {
      projectId: project.id,
      ...(body.name === undefined ? {} : { name: project.name }),
      ...(body.allowedIps === undefined ? {} : { allowedIps: project.allowedIps ?? [] }),
    });
    res.json(projectView(project));
  });

  router.delete('/v1/projects/:projectId', requireAdmin, acceptParameters('confirm'), async (req, res) => {
    const id = String(req.params.projectId);
    if (req.query.confirm !== id) throw errors.deletionNotConfirmed(id);
    const { project, job, done } = await deletions.start(id);
    audit(req, res, 'project_deletion_started', { projectId: project.id, jobId: job.id });
    done.then(
      (outcome) => {
        if (outcome === 'deleted') audit(req, res, 'project_deleted', { projectId: project.id, jobId: job.id });
      },
      // Not finished here: the job keeps its lease until it expires, then a poller resumes it.
      () => undefined,
    );
    res.status(202).json(deletingProjectView(project, job));
  });

  router.get('/v1/projects/:projectId/model', requireAdmin, acceptParameters(), async (req, res) => {
    res.json(modelView(await models.get(String(req.params.projectId))));
  });

  router.put('/v1/projects/:projectId/model', requireAdmin, acceptParameters(), ...jsonBody(), async (req, res) => {
    const change = await models.put(String(req.params.projectId), req.body);
    audit(req, res, 'model_changed', {
      projectId: change.project.id,
      fromVersion: change.previous.version,
      version: change.model.version,
      key: change.model.key ?? null,
      merge: change.model.merge,
      indexes: change.model.indexes,
      // The data-quality parts as a summary: which steps, whether a schema, what a violation does.
      rules: modelRules(change.model).map((step) => step.op),
      schema: change.model.schemaJson !== undefined,
      onInvalid: change.model.onInvalid ?? 'reject',
    });
    res.json(change.backfillJobId === undefined ? modelView(change.model) : { ...modelView(change.model), backfillJobId: change.backfillJobId });
  });

  router.post('/v1/projects/:projectId/keys', requireAdmin, acceptParameters(), ...jsonBody(), async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    const body = validate(createKeySchema, req.body);
    const { item, secret } = await keys.issue(project.id, {
      ...body,
      scopes: body.scopes as ApiKeyItem['scopes'] | undefined,
    });
    audit(req, res, 'key_created', {
      projectId: project.id,
      keyId: item.id,
      scopes: item.scopes,
      allowedIps: item.allowedIps ?? [],
      rateLimit: item.rateLimit ?? null,
    });
    res.status(201).location(`/v1/projects/${project.id}/keys/${item.id}`).json({ ...keyView(item), key: secret });
  });

  router.get('/v1/projects/:projectId/keys', requireAdmin, acceptParameters(), async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    res.json({ items: (await keys.list(project.id)).map(keyView) });
  });

  router.delete('/v1/projects/:projectId/keys/:keyId', requireAdmin, acceptParameters(), async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    const key = await keys.revoke(project.id, String(req.params.keyId));
    audit(req, res, 'key_revoked', { projectId: project.id, keyId: key.id });
    res.json(keyView(key));
  });
}
