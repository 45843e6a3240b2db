import type { NextFunction, Request, Response } from 'express';
import type { AuthRefusal, AuthService } from '../../domain/auth.service.js';
import type { Scope } from '../../domain/model.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RateLimits } from './rate-limit.js';

export interface AuthMiddlewareDeps {
  auth: AuthService;
  limits: RateLimits;
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
 * The HTTP side of authentication: reads the credential from the headers, asks the auth
 * service for a decision and enforces it, with the rate limits that guard it in plain
 * sight: an address that has failed too often is refused (429) before its credential is
 * looked at, each failed authentication (401, or 403 for a key refused) counts against the
 * address, and a request made with an API key counts against that key's limit.
 */
export function createAuthMiddleware(deps: AuthMiddlewareDeps) {
  const { auth, limits } = deps;

  const refuse = async (req: Request, res: Response, refusal: AuthRefusal): Promise<never> => {
    if (refusal.principal !== undefined) res.locals.principal = refusal.principal;
    deps.metrics.authFailures.inc({ reason: refusal.reason });
    deps.logger.warn('authentication failed', {
      event: 'auth_failed',
      reason: refusal.reason,
      requestId: res.locals.requestId,
      ip: req.ip,
      keyId: refusal.keyId,
      path: req.path.slice(0, 200),
    });
    // Past the limit this fails with 429 instead of the refusal itself.
    // 403s count too: a valid key refused for its project, its address or its scope still
    // tells a prober the key is real, so probing with one must cost attempts like a 401.
    if (refusal.error.status === 401 || refusal.error.status === 403) await limits.countFailedAttempt(req, res);
    throw refusal.error;
  };

  const requireAdmin = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await limits.refuseThrottledAddress(req, res);
    const decision = auth.authorizeAdmin(bearer(req));
    if (!decision.ok) return refuse(req, res, decision);
    res.locals.principal = decision.principal;
    next();
  };

  /** For /v1/projects/:projectId/...: an admin token, or a key of that project holding one of `scopes`. */
  const requireProject =
    (...scopes: Scope[]) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const projectId = String(req.params.projectId);
      res.locals.projectId = projectId;
      await limits.refuseThrottledAddress(req, res);
      const decision = await auth.authorizeProject({
        credential: req.get('x-api-key') ?? bearer(req),
        clientIp: req.ip,
        projectId,
        scopes,
      });
      if (!decision.ok) return refuse(req, res, decision);
      res.locals.principal = decision.principal;
      res.locals.project = decision.project;
      await limits.limitKey(req, res);
      next();
    };

  return { requireAdmin, requireProject };
}

export type AuthMiddleware = ReturnType<typeof createAuthMiddleware>;
