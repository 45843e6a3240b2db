import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { sendError } from '../error-envelope.js';

const CORS_ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id';
const CORS_EXPOSED_HEADERS = 'Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id';
const CORS_METHODS = 'GET, POST, PUT, DELETE';

/**
 * CORS for an explicit list of origins only (no wildcard, no cookies: callers send keys in
 * headers). An origin not on the list gets no CORS header at all, so browsers refuse it.
 * Preflights are answered here, before authentication, since they carry no credential.
 */
export function corsForOrigins(origins: readonly string[]) {
  const allowed = new Set(origins);
  return (req: Request, res: Response, next: NextFunction) => {
    res.vary('Origin');
    const origin = req.get('origin');
    if (origin === undefined || !allowed.has(origin)) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', CORS_METHODS);
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

export interface SlowBodyLimits {
  /** 0 turns the guard off. */
  minBytesPerSecond: number;
  windowMs: number;
}

function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/**
 * Cuts off clients that send a body too slowly (slowloris on the body: a byte a second
 * keeps a socket, and an upload slot, forever). While a body is incomplete, every window
 * must bring at least `minBytesPerSecond × window` bytes. A large upload that keeps
 * sending is never cut off however long it takes; and a window in which the service
 * itself was not reading (bytes waiting in the request's buffer: backpressure from
 * storage) does not count against the client.
 */
export function slowBodyGuard(limits: SlowBodyLimits, logger: Logger) {
  const minBytesPerWindow = Math.ceil((limits.minBytesPerSecond * limits.windowMs) / 1000);
  return (req: Request, res: Response, next: NextFunction) => {
    if (limits.minBytesPerSecond === 0 || !hasBody(req) || req.complete) {
      next();
      return;
    }
    const socket = req.socket;
    let lastBytes = socket.bytesRead;
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) {
        clearInterval(timer);
        return;
      }
      const received = socket.bytesRead - lastBytes;
      lastBytes = socket.bytesRead;
      if (received >= minBytesPerWindow || req.readableLength > 0) return;
      clearInterval(timer);
      logger.warn('request body too slow; connection closed', {
        event: 'slow_body',
        requestId: res.locals.requestId,
        ip: req.ip,
        path: req.path.slice(0, 200),
        bytesInWindow: received,
        windowMs: limits.windowMs,
      });
      cutOff(req, res);
    }, limits.windowMs);
    timer.unref();
    // Kept until the socket is gone, not just the response: a client answered early (401,
    // 413...) may still be trickling its body while the connection closes.
    socket.once('close', () => clearInterval(timer));
    next();
  };
}

/** Answers 408 when nothing was answered yet, then closes the connection (which aborts any upload in progress). */
function cutOff(req: Request, res: Response): void {
  const socket = req.socket;
  const destroyLater = () => setTimeout(() => socket.destroy(), 1000).unref();
  if (res.headersSent) {
    socket.destroy();
    return;
  }
  res.setHeader('Connection', 'close');
  sendError(res, new AppError(408, 'request_timeout', 'The request body arrived too slowly.'));
  res.once('finish', () => {
    socket.end();
    destroyLater();
  });
}
