import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's X-Request-Id when it is sane, otherwise makes one; echoes it and logs one line per request. */
export function requestContext(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && VALID_REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    // Read now: by 'finish' a connection closed after an error answer (413 mid-upload) has
    // no socket left, and req.ip would throw inside the event handler and kill the process.
    const ip = req.ip;
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The matched route pattern keeps metric labels bounded; unmatched paths share one label.
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      const level = res.statusCode >= 500 ? 'error' : 'http';
      if (!logger.isLevelEnabled(level)) return;
      logger.log(level, 'request', {
        event: 'http_request',
        requestId,
        method: req.method,
        route,
        path: req.path.slice(0, 300),
        status: res.statusCode,
        durationMs: Math.round(seconds * 1000),
        ip,
        projectId: res.locals.projectId,
        keyId: res.locals.principal?.kind === 'key' ? res.locals.principal.key.id : res.locals.principal?.kind,
        bytesIn: Number(req.get('content-length') ?? 0) || undefined,
      });
    });
    next();
  };
}
