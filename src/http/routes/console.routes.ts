import express, { Router, type Response } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../../errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The built console lives in dist/console: two levels above dist/http/routes when running the
 * compiled server, three above src/http/routes when running the sources with tsx.
 */
export const CONSOLE_DIR_CANDIDATES = [path.resolve(here, '../../console'), path.resolve(here, '../../../dist/console')];

function findConsoleDir(): string | undefined {
  return CONSOLE_DIR_CANDIDATES.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

/**
 * Stricter than the API's helmet policy: the console loads only its own script and style
 * files (Vite emits no inline code), talks only to this origin, and cannot be framed.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "base-uri 'none'",
].join('; ');

function consoleHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * Serves the single-page console under /console: hashed assets cached for a year (their name
 * changes with their content), index.html for every other console path, revalidated each time
 * so a new build is picked up at once. Registered on the app, not the API router: these are
 * static files, not routes of openapi.yaml. `dir` null: no build, /console says so.
 */
export function consoleRouter(dir: string | null = findConsoleDir() ?? null): Router {
  const router = Router();
  router.get('/', (_req, res) => res.redirect(302, '/console/'));
  if (dir === null) {
    router.use('/console', (req) => {
      throw errors.routeNotFound(req.method, `/console${req.path} (the console is not built: run npm run build)`);
    });
    return router;
  }
  const indexFile = path.join(dir, 'index.html');
  router.use(
    '/console/assets',
    (_req, res, next) => {
      consoleHeaders(res);
      next();
    },
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false }),
    (req) => {
      throw errors.routeNotFound(req.method, `/console/assets${req.path}`);
    },
  );
  router.get(['/console', '/console/{*rest}'], (_req, res) => {
    consoleHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexFile);
  });
  return router;
}
