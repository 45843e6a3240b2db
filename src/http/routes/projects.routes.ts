import type { Router } from 'express';
import { z } from 'zod';
import { keyStatus } from '../../domain/api-keys.service.js';
import { isValidRange } from '../../domain/ip-allowlist.js';
import { PROJECT_ID_PATTERN } from '../../domain/projects.service.js';
import { errors } from '../../errors.js';
import { ALL_SCOPES, type ApiKeyItem, type ProjectItem } from '../../domain/model.js';
import { jsonBody } from '../middleware/body.js';
import type { RouteDeps } from '../route-deps.js';
import { displayName, validate } from '../validation.js';
import { parseLimit } from '../../domain/cursor.js';

/** Addresses or CIDRs, IPv4 or IPv6; refused whole (400) when any entry is invalid. */
const allowedIpsSchema = z
  .array(z.string().max(64).refine(isValidRange, 'must be an IPv4 or IPv6 address or CIDR'))
  .max(100);

const createProjectSchema = z.strictObject({ id: z.string(), name: displayName, allowedIps: allowedIpsSchema.optional() });

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

function projectView(p: ProjectItem) {
  return {
    id: p.id,
    name: p.name,
    allowedIps: p.allowedIps ?? [],
    createdAt: p.createdAt,
    tableName: p.tableName,
    bucketName: p.bucketName,
  };
}

export function keyView(k: ApiKeyItem) {
  return {
    id: k.id,
    projectId: k.projectId,
    name: k.name,
    scopes: k.scopes,
    allowedIps: k.allowedIps ?? [],
    rateLimit: k.rateLimit ?? null,
    expiresAt: k.expiresAt ?? null,
    revokedAt: k.revokedAt ?? null,
    createdAt: k.createdAt,
    status: keyStatus(k),
  };
}

/** Admin routes: projects and their API keys. */
export function registerProjectRoutes(router: Router, deps: RouteDeps): void {
  const { requireAdmin } = deps.auth;
  const { projects, keys, cursors, audit } = deps;

  router.post('/v1/projects', requireAdmin, ...jsonBody(), async (req, res) => {
    const body = validate(createProjectSchema, req.body);
    if (!PROJECT_ID_PATTERN.test(body.id)) throw errors.invalidProjectId(body.id);
    const project = await projects.create(body);
    audit(req, res, 'project_created', { projectId: project.id, allowedIps: project.allowedIps ?? [] });
    res.status(201).location(`/v1/projects/${project.id}`).json(projectView(project));
  });

  router.get('/v1/projects', requireAdmin, async (req, res) => {
    const limit = parseLimit(req.query.limit, 100, 1, 1000);
    const after = typeof req.query.cursor === 'string' ? cursors.decode('projects', req.query.cursor) : undefined;
    if (req.query.cursor !== undefined && typeof req.query.cursor !== 'string') throw errors.invalidCursor();
    const page = await projects.list(limit, after);
    res.json({
      items: page.items.map(projectView),
      nextCursor: page.next === undefined ? null : cursors.encode('projects', page.next),
    });
  });

  router.get('/v1/projects/:projectId', requireAdmin, async (req, res) => {
    res.json(projectView(await projects.get(String(req.params.projectId))));
  });

  router.post('/v1/projects/:projectId/keys', requireAdmin, ...jsonBody(), async (req, res) => {
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

  router.get('/v1/projects/:projectId/keys', requireAdmin, async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    res.json({ items: (await keys.list(project.id)).map(keyView) });
  });

  router.delete('/v1/projects/:projectId/keys/:keyId', requireAdmin, async (req, res) => {
    const project = await projects.get(String(req.params.projectId));
    const key = await keys.revoke(project.id, String(req.params.keyId));
    audit(req, res, 'key_revoked', { projectId: project.id, keyId: key.id });
    res.json(keyView(key));
  });
}
