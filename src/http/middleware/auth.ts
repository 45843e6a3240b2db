import type { NextFunction, Request, Response } from 'express';
import type { AdminDecision, AuthRefusal, AuthService } from '../../domain/auth.service.js';
import type { Scope } from '../../domain/model.js';
import { TOKEN_ADMIN, type AdminIdentity, type SessionService } from '../../domain/session.service.js';
import type { ZeroTrustAssertion, ZeroTrustService } from '../../domain/zero-trust.service.js';
import { errors } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RateLimits } from './rate-limit.js';
import { sessionCookieOf } from './session-cookie.js';

export interface AuthMiddlewareDeps {
  auth: AuthService;
  sessions: SessionService;
  /** Absent or unconfigured: zero-trust headers are ignored (never trusted unverified). */
  zeroTrust?: ZeroTrustService;
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

/** Methods that change state need the CSRF token when the credential is ambient (a cookie, a proxy's header). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session a request authenticated by a cookie or an assertion acts in (its CSRF token derives from `sid`). */
export interface AmbientAdmin {
  admin: AdminIdentity;
  sid: string;
  by: 'session' | 'assertion';
  expiresAt?: Date;
}

/**
 * The HTTP side of authentication: reads the credential from the headers, asks the auth
 * service for a decision and enforces it, with the rate limits that guard it in plain
 * sight: an address that has failed too often is refused (429) before its credential is
 * looked at, each failed authentication (401, or 403 for a key refused) counts against the
 * address, and a request made with an API key counts against that key's limit.
 * Explicit credentials (Authorization, X-API-Key) come first and need no CSRF token: a
 * browser never adds them by itself. Without one, the console's session cookie or a
 * verified zero-trust assertion makes the caller the admin; both travel with every request
 * the browser makes, so state-changing requests must also carry X-CSRF-Token.
 */
export function createAuthMiddleware(deps: AuthMiddlewareDeps) {
  const { auth, limits, sessions, zeroTrust } = deps;

  const refuse = async (req: Request, res: Response, refusal: AuthRefusal): Promise<never> => {
    if (refusal.principal !== undefined) res.locals.principal = refusal.principal;
    deps.metrics.authFailures.inc({ reason: refusal.reason });
    deps.logger.warn('authentication failed', {
      event: 'auth_failed',
      reason: refusal.reason,
      requestId: res.locals.requestId,
      ip: req.ip,
      keyId: refusal.keyId,
      detail: refusal.detail,
      path: req.path.slice(0, 200),
    });
    // Past the limit this fails with 429 instead of the refusal itself.
    // 403s count too: a valid key refused for its project, its address or its scope still
    // tells a prober the key is real, so probing with one must cost attempts like a 401.
    // An expired session is not a guess (its signature was ours): a console tab left open
    // overnight must not use up its address's attempts with the calls it makes on waking.
    const guess = refusal.reason !== 'session_expired';
    if (guess && (refusal.error.status === 401 || refusal.error.status === 403)) await limits.countFailedAttempt(req, res);
    throw refusal.error;
  };

  const assertionOf = (req: Request): ZeroTrustAssertion | undefined =>
    zeroTrust?.assertionOf({
      cfAccess: req.get('cf-access-jwt-assertion'),
      albOidc: req.get('x-amzn-oidc-data'),
    });

  /** The admin a session cookie or zero-trust assertion names; undefined when the request carries neither. */
  const resolveAmbientAdmin = async (req: Request, res: Response): Promise<AmbientAdmin | undefined> => {
    const cookie = sessionCookieOf(req);
    const assertion = assertionOf(req);
    if (cookie !== undefined) {
      const check = sessions.verify(cookie);
      if (check.ok) return { admin: check.session.admin, sid: check.session.sid, by: 'session', expiresAt: check.session.expiresAt };
      // A stale cookie beside a valid assertion (the proxy signed the admin in again) is no reason to refuse.
      if (assertion === undefined) {
        const error = check.reason === 'session_expired' ? errors.sessionExpired() : errors.unauthenticated('The session cookie is not valid; sign in again.');
        return refuse(req, res, { ok: false, reason: check.reason, error });
      }
    }
    if (assertion === undefined || zeroTrust === undefined) return undefined;
    const decision = await zeroTrust.verify(assertion);
    if (!decision.ok) return refuse(req, res, decision);
    // The CSRF token of an assertion-authenticated caller derives from its identity, so that a
    // client which keeps only the assertion (no cookie jar) can use the token GET /v1/session gave it.
    return { admin: decision.admin, sid: `zt:${decision.admin.via}:${decision.admin.id}`, by: 'assertion' };
  };

  const enforceCsrf = (req: Request, res: Response, ambient: AmbientAdmin): void => {
    if (SAFE_METHODS.has(req.method)) return;
    if (sessions.csrfMatches(ambient.sid, req.get('x-csrf-token'))) return;
    deps.metrics.authFailures.inc({ reason: 'csrf_failed' });
    deps.logger.warn('CSRF token missing or wrong', {
      event: 'csrf_failed',
      requestId: res.locals.requestId,
      ip: req.ip,
      adminId: ambient.admin.id,
      path: req.path.slice(0, 200),
    });
    throw errors.csrfFailed();
  };

  /** Cookie or assertion: the admin, CSRF enforced; undefined when neither is present. */
  const ambientAdminFor = async (req: Request, res: Response): Promise<AmbientAdmin | undefined> => {
    const ambient = await resolveAmbientAdmin(req, res);
    if (ambient === undefined) return undefined;
    enforceCsrf(req, res, ambient);
    res.locals.ambientAdmin = ambient;
    return ambient;
  };

  const requireAdmin = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await limits.refuseThrottledAddress(req, res);
    const token = bearer(req);
    if (token === undefined) {
      const ambient = await ambientAdminFor(req, res);
      if (ambient !== undefined) {
        res.locals.principal = { kind: 'admin', ...ambient.admin };
        return next();
      }
    }
    const decision: AdminDecision = auth.authorizeAdmin(token);
    if (!decision.ok) return refuse(req, res, decision);
    res.locals.principal = decision.principal;
    next();
  };

  /** For /v1/projects/:projectId/...: an admin (token, session, assertion), or a key of that project holding one of `scopes`. */
  const requireProject =
    (...scopes: Scope[]) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const projectId = String(req.params.projectId);
      res.locals.projectId = projectId;
      await limits.refuseThrottledAddress(req, res);
      const credential = req.get('x-api-key') ?? bearer(req);
      const ambient = credential === undefined ? await ambientAdminFor(req, res) : undefined;
      const decision =
        ambient !== undefined
          ? await auth.adminOnProject(ambient.admin, projectId)
          : await auth.authorizeProject({ credential, clientIp: req.ip, projectId, scopes });
      if (!decision.ok) return refuse(req, res, decision);
      res.locals.principal = decision.principal;
      res.locals.project = decision.project;
      await limits.limitKey(req, res);
      next();
    };

  /** POST /v1/session: the admin token in the body, refused and counted like any wrong credential. */
  const signInWithToken = async (req: Request, res: Response, token: string | undefined): Promise<AdminIdentity> => {
    const decision = auth.authorizeAdmin(token);
    if (!decision.ok) return refuse(req, res, decision);
    res.locals.principal = decision.principal;
    return TOKEN_ADMIN;
  };

  /** GET /v1/session: the ambient admin (safe method, so no CSRF); 401 when there is none. */
  const currentAdmin = async (req: Request, res: Response): Promise<AmbientAdmin> => {
    await limits.refuseThrottledAddress(req, res);
    const ambient = await ambientAdminFor(req, res);
    if (ambient === undefined) throw errors.unauthenticated('No console session; sign in.');
    res.locals.principal = { kind: 'admin', ...ambient.admin };
    return ambient;
  };

  return { requireAdmin, requireProject, signInWithToken, currentAdmin, throttle: limits.refuseThrottledAddress };
}

export type AuthMiddleware = ReturnType<typeof createAuthMiddleware>;
