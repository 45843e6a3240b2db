import type { NextFunction, Request, Response } from 'express';
import { keyIdOf, secretMatcher, type ApiKeyService } from '../../domain/api-keys.service.js';
import { addressAllowed } from '../../domain/ip-allowlist.js';
import type { ProjectService } from '../../domain/projects.service.js';
import { errors, isAppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Scope } from '../../domain/model.js';

export interface AuthDeps {
  adminToken: string;
  keys: ApiKeyService;
  projects: ProjectService;
  logger: Logger;
  metrics: Metrics;
}

function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Authentication and authorisation for the two kinds of caller. Fails closed: with no
 * credential, an unknown one, or one for another project, the request stops here.
 */
export function createAuth(deps: AuthDeps) {
  const isAdminToken = secretMatcher(deps.adminToken);
  const fail = (req: Request, res: Response, reason: string, presented?: string) => {
    deps.metrics.authFailures.inc({ reason });
    deps.logger.warn('authentication failed', {
      event: 'auth_failed',
      reason,
      requestId: res.locals.requestId,
      ip: req.ip,
      // Only the public key id, never the secret.
      keyId: presented === undefined ? undefined : keyIdOf(presented),
      path: req.path.slice(0, 200),
    });
  };

  const requireAdmin = (req: Request, res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (token === undefined || !isAdminToken(token)) {
      fail(req, res, token === undefined ? 'missing_admin_token' : 'wrong_admin_token');
      throw errors.adminRequired();
    }
    res.locals.principal = { kind: 'admin' };
    next();
  };

  /** For /v1/projects/:projectId/...: an admin token, or a key of that project holding one of `scopes`. */
  const requireProject = (...scopes: Scope[]) => async (req: Request, res: Response, next: NextFunction) => {
    const projectId = String(req.params.projectId);
    res.locals.projectId = projectId;
    const presented = req.get('x-api-key') ?? bearer(req);
    if (presented === undefined) {
      fail(req, res, 'missing_credential');
      throw errors.unauthenticated();
    }
    if (isAdminToken(presented)) {
      res.locals.principal = { kind: 'admin' };
    } else {
      let key;
      try {
        key = await deps.keys.verify(presented);
      } catch (error) {
        if (isAppError(error) && error.status === 401) fail(req, res, 'invalid_key', presented);
        throw error;
      }
      res.locals.principal = { kind: 'key', key };
      if (key.projectId !== projectId) {
        fail(req, res, 'other_project', presented);
        throw errors.keyNotForProject();
      }
      // The project's allowlist applies to all its keys; a key's own list narrows it further.
      const project = await deps.projects.get(projectId);
      for (const allowed of [project.allowedIps, key.allowedIps]) {
        if (allowed !== undefined && allowed.length > 0 && !addressAllowed(req.ip, allowed)) {
          fail(req, res, 'ip_not_allowed', presented);
          throw errors.ipNotAllowed();
        }
      }
      if (!scopes.some((scope) => key.scopes.includes(scope))) {
        fail(req, res, 'insufficient_scope', presented);
        throw errors.insufficientScope(scopes.join(' or '));
      }
    }
    res.locals.project = await deps.projects.get(projectId);
    next();
  };

  return { requireAdmin, requireProject };
}
