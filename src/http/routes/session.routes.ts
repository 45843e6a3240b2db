import type { Router } from 'express';
import type { AdminIdentity } from '../../domain/session.service.js';
import type { AmbientAdmin } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body.js';
import { clearSessionCookie, setSessionCookie } from '../middleware/session-cookie.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';

const sessionView = (admin: AdminIdentity, csrfToken: string, expiresAt: Date) => ({
  admin: { id: admin.id, name: admin.name, via: admin.via },
  csrfToken,
  expiresAt: expiresAt.toISOString(),
});

/**
 * The console's sign-in: the admin token is exchanged once for a signed session cookie
 * (the token never has to live in the browser), or a verified zero-trust assertion opens
 * a session by itself. The CSRF token comes back in the body only, for the console to keep
 * in memory and send as X-CSRF-Token.
 */
export function registerSessionRoutes(router: Router, deps: RouteDeps): void {
  const { guards, sessions, audit } = deps;

  router.post('/v1/session', acceptParameters(), async (req, res, next) => {
    // An address past its failed attempts is refused before the body is even read.
    await guards.throttle(req, res);
    next();
  }, ...jsonBody(4 * 1024), async (req, res) => {
    const presented: unknown = (req.body as { token?: unknown }).token;
    const admin = await guards.signInWithToken(req, res, typeof presented === 'string' ? presented : undefined);
    const { session, cookie } = sessions.issue(admin);
    setSessionCookie(req, res, cookie);
    audit(req, res, 'session_started', {});
    res.status(200).json(sessionView(session.admin, sessions.csrfToken(session.sid), session.expiresAt));
  });

  router.get('/v1/session', acceptParameters(), async (req, res) => {
    const ambient: AmbientAdmin = await guards.currentAdmin(req, res);
    if (ambient.by === 'session' && ambient.expiresAt !== undefined) {
      res.json(sessionView(ambient.admin, sessions.csrfToken(ambient.sid), ambient.expiresAt));
      return;
    }
    // A verified zero-trust assertion and no session yet: open one, as a token sign-in would.
    const { session, cookie } = sessions.issue(ambient.admin, undefined, ambient.sid);
    setSessionCookie(req, res, cookie);
    audit(req, res, 'session_started', {});
    res.json(sessionView(session.admin, sessions.csrfToken(session.sid), session.expiresAt));
  });

  // Signing out needs no CSRF token: the worst a forged request can do is sign the admin out.
  router.delete('/v1/session', acceptParameters(), (req, res) => {
    clearSessionCookie(req, res);
    res.status(204).end();
  });
}
