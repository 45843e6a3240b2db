// Secrets never leave the service: a run that creates keys and uses them (valid, wrong,
// revoked, misplaced) is captured whole from the log stream, and neither a key secret nor
// the admin token appears in it or in any error body. Failed authentications are logged
// with the key id only and counted; admin actions are audit events with who, what, when
// and from which address.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { counterValue, createKey, createProject, LogCapture, randomKey, type SecKey } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const CLIENT = '203.0.113.50';

describe('secrets in logs and error bodies', () => {
  let t: TestApp;
  const logs = new LogCapture();
  const bodies: string[] = [];
  const keys: SecKey[] = [];
  let projectId = '';
  let revoked: SecKey;
  const started = Date.now();

  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_LOG_LEVEL: 'debug', INTAKE_TRUST_PROXY_HOPS: '1' }, logStream: logs.stream });
    const p = await createProject(t);
    projectId = p.id;
    const full = await createKey(t, p.id);
    const readOnly = await createKey(t, p.id, { scopes: ['records:read'] });
    revoked = await createKey(t, p.id);
    keys.push(full, readOnly, revoked);
    const base = `/v1/projects/${p.id}`;
    const keep = (res: request.Response) => bodies.push(res.text);
    const admin = { ...t.admin, 'X-Forwarded-For': CLIENT };

    // Valid use, through both headers.
    keep(await request(t.app).post(`${base}/records`).set(full.header).send({ secret: 'data is not a credential' }));
    keep(await request(t.app).get(`${base}/records`).set('Authorization', `Bearer ${full.key}`));
    keep(await request(t.app).put(`${base}/files/a.csv`).set(full.header).set('Content-Type', 'text/csv').send('a\n1\n'));
    // Wrong secret for a real key id, malformed keys, a random key, the wrong scope.
    const wrongSecret = `ik_${full.id}_${'A'.repeat(43)}`;
    keep(await request(t.app).get(`${base}/records`).set('X-API-Key', wrongSecret));
    keep(await request(t.app).get(`${base}/records`).set('X-API-Key', 'not-a-key'));
    keep(await request(t.app).get(`${base}/records`).set('X-API-Key', randomKey()));
    keep(await request(t.app).post(`${base}/records`).set(readOnly.header).send({ a: 1 }));
    // Revoked key.
    keep(await request(t.app).delete(`${base}/keys/${revoked.id}`).set(admin));
    keep(await request(t.app).get(`${base}/records`).set(revoked.header));
    // Wrong admin tokens, the admin token on a project route.
    keep(await request(t.app).get('/v1/projects').set('Authorization', `Bearer ${t.adminToken}x`));
    keep(await request(t.app).get('/v1/projects').set('Authorization', 'Bearer wrong-token-that-is-long-enough-0123456789'));
    keep(await request(t.app).get(`${base}/records`).set('X-API-Key', t.adminToken));
    // Secrets where they do not belong: in the path, the query, a request id, a project id.
    keep(await request(t.app).get(`/v1/projects/${full.key}/records`).set(full.header));
    keep(await request(t.app).get(`${base}/records?api_key=${full.key}&token=${t.adminToken}`).set(full.header));
    keep(await request(t.app).get(`${base}/records`).set(full.header).set('X-Request-Id', full.key));
    keep(await request(t.app).get(`/v1/projects/${t.adminToken}/keys`).set(admin));
    keep(await request(t.app).get(`/v1/projects/${full.key}`).set(admin));
    keep(await request(t.app).post(`${base}/records`).set(full.header).set('Content-Type', 'application/json').send(`{"broken": "${full.key}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  afterAll(async () => t.close());

  it('never writes a key secret or the admin token to the log', () => {
    expect(logs.entries().length).toBeGreaterThan(20);
    for (const { key, id } of keys) {
      expect(logs.text).not.toContain(key);
      expect(logs.text).not.toContain(key.slice(`ik_${id}_`.length));
    }
    expect(logs.text).not.toContain(t.adminToken);
    // Secrets in paths were there to be masked, and were.
    expect(logs.text).toContain(`ik_${keys[0]!.id}_[REDACTED]`);
    // The key id alone may appear: it is how a key is found without its secret.
    expect(logs.text).toContain(keys[0]!.id);
  });

  it('never echoes a key secret or the admin token in an error body', () => {
    const errorBodies = bodies.filter((b) => b.includes('"error"'));
    expect(errorBodies.length).toBeGreaterThan(10);
    for (const body of errorBodies) {
      for (const { key, id } of keys) expect(body).not.toContain(key.slice(`ik_${id}_`.length, `ik_${id}_`.length + 16));
      expect(body).not.toContain(t.adminToken.slice(0, 24));
    }
  });

  it('logs failed authentications with the key id and reason, never the credential', () => {
    const failures = logs.entries().filter((e) => e.event === 'auth_failed');
    const reasons = failures.map((e) => e.reason);
    for (const reason of ['invalid_key', 'insufficient_scope', 'wrong_admin_token']) expect(reasons).toContain(reason);
    const wrongSecret = failures.find((e) => e.reason === 'invalid_key' && e.keyId === keys[0]!.id);
    expect(wrongSecret).toBeDefined();
    expect(failures.find((e) => e.reason === 'invalid_key' && e.keyId === revoked.id)).toBeDefined();
    for (const failure of failures) {
      expect(Object.keys(failure)).not.toContain('key');
      expect(Object.keys(failure)).not.toContain('secret');
    }
  });

  it('raised no rate-limiter misconfiguration warning', () => {
    expect(logs.entries().filter((e) => String(e.event).startsWith('rate_limit_'))).toEqual([]);
  });

  it('counts failed authentications in intake_auth_failures_total', async () => {
    expect(await counterValue(t, 'intake_auth_failures_total', { reason: 'invalid_key' })).toBeGreaterThanOrEqual(4);
    expect(await counterValue(t, 'intake_auth_failures_total', { reason: 'wrong_admin_token' })).toBe(2);
    expect(await counterValue(t, 'intake_auth_failures_total', { reason: 'insufficient_scope' })).toBe(1);
    const exposed = (await request(t.app).get('/metrics')).text;
    expect(exposed).toMatch(/intake_auth_failures_total\{reason="invalid_key"\} \d+/);
  });

  it('writes audit events with who, what, when and from which address', () => {
    const audits = logs.entries().filter((e) => e.event === 'audit');
    const byAction = (action: string) => audits.filter((e) => e.action === action);
    expect(byAction('project_created')).toHaveLength(1);
    expect(byAction('key_created')).toHaveLength(3);
    expect(byAction('key_revoked')).toHaveLength(1);
    const revocation = byAction('key_revoked')[0]!;
    expect(revocation).toMatchObject({ actor: 'admin', projectId, keyId: revoked.id, ip: CLIENT });
    expect(byAction('key_created')[1]).toMatchObject({ actor: 'admin', projectId, keyId: keys[1]!.id, scopes: ['records:read'] });
    for (const audit of audits) {
      expect(audit.actor).toBe('admin');
      expect(typeof audit.requestId).toBe('string');
      expect(typeof audit.ip).toBe('string');
      const at = Date.parse(String(audit.at));
      expect(at).toBeGreaterThanOrEqual(started - 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
    }
  });
});

describe('admin token strength', () => {
  it('stops startup in aws mode with a token under 32 characters, naming the variable and never the token', () => {
    const weak = 'short-but-secret-token';
    let thrown: unknown;
    try {
      loadConfig({ INTAKE_STORAGE: 'aws', INTAKE_ADMIN_TOKEN: weak });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain('INTAKE_ADMIN_TOKEN: must be at least 32 characters');
    expect((thrown as Error).message).not.toContain(weak);
    expect(() => loadConfig({ INTAKE_STORAGE: 'aws' })).toThrow(/INTAKE_ADMIN_TOKEN: required/);
    expect(() => loadConfig({ INTAKE_STORAGE: 'aws', INTAKE_ADMIN_TOKEN: 'x'.repeat(32) })).not.toThrow();
  });

  it('refuses CORS origins that are not explicit', () => {
    for (const origins of ['*', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://x.example']) {
      expect(() => loadConfig({ INTAKE_CORS_ORIGINS: origins }), origins).toThrow(/INTAKE_CORS_ORIGINS/);
    }
    expect(loadConfig({ INTAKE_CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' }).corsOrigins).toEqual([
      'https://a.example.com',
      'http://localhost:3000',
    ]);
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });
});
