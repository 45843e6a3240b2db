import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How an admin proved who they are. */
export type AdminVia = 'token' | 'cloudflare-access' | 'alb-oidc';

/** The admin behind a request, named in audit events. */
export interface AdminIdentity {
  id: string;
  name: string;
  via: AdminVia;
}

/** The identity of whoever holds the admin token: the token names no person. */
export const TOKEN_ADMIN: AdminIdentity = Object.freeze({ id: 'admin-token', name: 'Admin token', via: 'token' });

/** Console sessions last 8 hours; past that the admin signs in again. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export interface Session {
  /** Random per sign-in; the CSRF token derives from it. */
  sid: string;
  admin: AdminIdentity;
  expiresAt: Date;
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; reason: 'invalid_session' | 'session_expired' };

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Signed, stateless console sessions. The cookie is `v1.<payload>.<mac>`: a base64url JSON
 * payload and its HMAC-SHA256 under a key derived from the admin token, so rotating the
 * token revokes every session at once with no session table to clear, and any task of the
 * service can check a cookie another task issued. node:crypto's HMAC is enough here: the
 * payload is ours, read only by this service, and verification stays synchronous (jose's
 * JWTs would add an algorithm header to police and async calls on every request).
 * CSRF tokens are HMACs of the session id under a second derived key: the console keeps the
 * token in memory and sends it in X-CSRF-Token; a cross-site page can neither read it nor
 * forge it.
 */
export class SessionService {
  private readonly cookieKey: Buffer;
  private readonly csrfKey: Buffer;

  constructor(
    adminToken: string,
    private readonly now: () => number = Date.now,
  ) {
    const root = createHmac('sha256', adminToken).update('intake console session keys').digest();
    this.cookieKey = createHmac('sha256', root).update('cookie v1').digest();
    this.csrfKey = createHmac('sha256', root).update('csrf v1').digest();
  }

  /**
   * A new session for `admin` and its cookie value; `issuedAt` defaults to now. `sid` is
   * random unless given: a session opened from a zero-trust assertion takes the identity's
   * own (see the auth middleware), so its CSRF token also fits requests that carry only
   * the assertion.
   */
  issue(admin: AdminIdentity, issuedAt = this.now(), sid = b64(randomBytes(18))): { session: Session; cookie: string } {
    const session: Session = {
      sid,
      admin: { id: admin.id, name: admin.name, via: admin.via },
      expiresAt: new Date(issuedAt + SESSION_TTL_MS),
    };
    const payload = b64(JSON.stringify({ sid: session.sid, admin: session.admin, exp: session.expiresAt.getTime() }));
    return { session, cookie: `v1.${payload}.${this.mac(payload)}` };
  }

  verify(cookie: string): SessionCheck {
    const parts = cookie.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'invalid_session' };
    const [, payload, mac] = parts as [string, string, string];
    if (!sameBytes(Buffer.from(mac, 'base64url'), Buffer.from(this.mac(payload), 'base64url'))) {
      return { ok: false, reason: 'invalid_session' };
    }
    let claims: { sid?: unknown; admin?: Partial<AdminIdentity>; exp?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return { ok: false, reason: 'invalid_session' };
    }
    const { sid, admin, exp } = claims;
    if (typeof sid !== 'string' || typeof exp !== 'number' || typeof admin?.id !== 'string' || typeof admin.name !== 'string') {
      return { ok: false, reason: 'invalid_session' };
    }
    if (exp <= this.now()) return { ok: false, reason: 'session_expired' };
    const via = admin.via === 'cloudflare-access' || admin.via === 'alb-oidc' ? admin.via : 'token';
    return { ok: true, session: { sid, admin: { id: admin.id, name: admin.name, via }, expiresAt: new Date(exp) } };
  }

  /** The CSRF token bound to a session id (or, for a zero-trust request without a cookie, to its identity). */
  csrfToken(sid: string): string {
    return createHmac('sha256', this.csrfKey).update(sid).digest('base64url');
  }

  csrfMatches(sid: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    return sameBytes(Buffer.from(presented, 'utf8'), Buffer.from(this.csrfToken(sid), 'utf8'));
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.cookieKey).update(payload).digest('base64url');
  }
}
