import { parse as parseCookies } from 'cookie';
import type { Request, Response } from 'express';
import { SESSION_TTL_MS } from '../../domain/session.service.js';

export const SESSION_COOKIE = 'intake_session';

/** The console's session cookie, if the request carries one (parsed by the maintained `cookie` package). */
export function sessionCookieOf(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined || header === '') return undefined;
  return parseCookies(header)[SESSION_COOKIE];
}

/**
 * HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), whole
 * origin, 8 hours; Secure when the request came over HTTPS, which behind a load balancer
 * req.secure learns from X-Forwarded-Proto across the trusted proxy hops only.
 */
export function setSessionCookie(req: Request, res: Response, value: string): void {
  res.cookie(SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    maxAge: SESSION_TTL_MS,
    secure: req.secure,
  });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.secure });
}
