// /metrics behind INTAKE_METRICS_TOKEN: open when unset, bearer token only when set.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdefghijklmnopq';

function expectUnauthenticated(res: request.Response) {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthenticated');
  expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
  expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
  // Neither the metrics nor the token come back.
  expect(res.text).not.toContain('intake_http_requests_total');
  expect(res.text).not.toContain(METRICS_TOKEN);
}

describe('/metrics with INTAKE_METRICS_TOKEN set', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded', env: { INTAKE_METRICS_TOKEN: METRICS_TOKEN } });
  });
  afterAll(() => t.close());

  it('serves the metrics to the bearer token', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await request(t.app).get('/metrics').set('Authorization', `${scheme} ${METRICS_TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('intake_http_requests_total');
    }
  });

  it('answers 401 unauthenticated without it, with a wrong one, or with another credential', async () => {
    expectUnauthenticated(await request(t.app).get('/metrics'));
    for (const authorization of [
      `Bearer ${METRICS_TOKEN}x`,
      `Bearer ${METRICS_TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`prometheus:${METRICS_TOKEN}`).toString('base64')}`,
      METRICS_TOKEN,
      `Bearer ${t.adminToken}`,
      'Bearer ',
    ]) {
      expectUnauthenticated(await request(t.app).get('/metrics').set('Authorization', authorization));
    }
    expectUnauthenticated(await request(t.app).get('/metrics').set('X-API-Key', METRICS_TOKEN));
  });

  it('leaves the other system routes open', async () => {
    expect((await request(t.app).get('/healthz')).status).toBe(200);
    expect((await request(t.app).get('/readyz')).status).toBe(200);
  });
});

describe('/metrics without INTAKE_METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded' });
  });
  afterAll(() => t.close());

  it('stays open, as before', async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('intake_http_requests_total');
  });
});

describe('INTAKE_METRICS_TOKEN', () => {
  it('is held to the admin token rules: at least 32 characters, no whitespace', () => {
    expect(loadConfig({ INTAKE_METRICS_TOKEN: METRICS_TOKEN }).metricsToken).toBe(METRICS_TOKEN);
    expect(loadConfig({ INTAKE_METRICS_TOKEN: '' }).metricsToken).toBeUndefined();
    expect(loadConfig({}).metricsToken).toBeUndefined();
    for (const bad of ['short-token', 'a'.repeat(31), `${'a'.repeat(20)} ${'b'.repeat(20)}`]) {
      expect(() => loadConfig({ INTAKE_METRICS_TOKEN: bad }), bad).toThrow(/INTAKE_METRICS_TOKEN/);
    }
  });
});
