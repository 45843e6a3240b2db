import express from 'express';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/http/middleware/error-handler.js';
import { CONSOLE_CSP, consoleRouter } from '../../src/http/routes/console.routes.js';
import { createLogger } from '../../src/observability/logger.js';

// How the built console is served, on a stand-in build: hashed assets cached for good,
// index.html for every console path and revalidated, the strict policy on both.
let dir: string;
const logger = createLogger({ level: 'error', stream: new PassThrough() });

function appWith(consoleDir: string | null) {
  const app = express();
  app.use(consoleRouter(consoleDir));
  app.use(errorHandler(logger));
  return app;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-console-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the console routes', () => {
  it('serves hashed assets for a year, immutable, under the strict policy', async () => {
    const response = await request(appWith(dir)).get('/console/assets/index-abc123.js');
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(response.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it.each(['/console', '/console/', '/console/projects/acme/records'])('answers %s with index.html, revalidated', async (url) => {
    const response = await request(appWith(dir)).get(url);
    expect(response.status).toBe(200);
    expect(response.text).toContain('<title>console</title>');
    expect(response.headers['cache-control']).toBe('no-cache');
    for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "script-src 'self'"]) {
      expect(response.headers['content-security-policy']).toContain(directive);
    }
    expect(response.headers['content-security-policy']).not.toContain('unsafe-inline');
  });

  it('answers a missing asset with 404 route_not_found, not the page', async () => {
    const response = await request(appWith(dir)).get('/console/assets/index-gone.js');
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('route_not_found');
  });

  it('redirects / to the console', async () => {
    const response = await request(appWith(dir)).get('/');
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/console/');
  });

  it('says the console is not built when there is no build', async () => {
    const response = await request(appWith(null)).get('/console/');
    expect(response.status).toBe(404);
    expect(response.body.error.message).toContain('npm run build');
  });
});
