// Console sign-in: the admin token exchanged for a signed session cookie, the cookie
// accepted as the admin on admin and project routes, CSRF on state-changing requests,
// and the bad inputs of the console issue (wrong token, expired session, forged cross-site
// POST, a session outliving a token rotation).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService, TOKEN_ADMIN } from '../../src/domain/session.service.js';
import { uniqueName } from '../support/endpoints.js';
import { createProject, expectError, LogCapture, storedJobCount, storedRecordCount, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const FAILED_ATTEMPTS = 4;

describe('console sessions', () => {
  let t: TestApp;
  let p: SecProject;
  let server: http.Server;
  let base: string;
  const logs = new LogCapture();
  // Each test speaks from its own address, so failed attempts of one never throttle another.
  let lastOctet = 0;
  const nextAddress = () => `198.51.100.${++lastOctet}`;

  beforeAll(async () => {
    t = await createTestApp({
      mode: 'embedded',
      env: {
        INTAKE_LOG_LEVEL: 'info',
        INTAKE_TRUST_PROXY_HOPS: '1',
        INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: String(FAILED_ATTEMPTS),
        INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS: '600',
      },
      logStream: logs.stream,
    });
    p = await createProject(t);
    server = http.createServer(t.app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  /** Requests from one client address (through the trusted proxy hop). */
  const at = (from: string) => ({
    get: (path: string) => request(base).get(path).set('X-Forwarded-For', from),
    post: (path: string) => request(base).post(path).set('X-Forwarded-For', from),
    put: (path: string) => request(base).put(path).set('X-Forwarded-For', from),
    delete: (path: string) => request(base).delete(path).set('X-Forwarded-For', from),
  });

  /** Signs in from `from` and returns the cookie pair to send back and the CSRF token. */
  async function signIn(from = nextAddress()) {
    const res = await at(from).post('/v1/session').send({ token: t.adminToken });
    expect(res.status, res.text).toBe(200);
    const setCookie = res.headers['set-cookie'] as unknown as string[];
    const cookie = setCookie[0]!.split(';')[0]!;
    return { cookie, csrf: res.body.csrfToken as string, body: res.body, setCookie: setCookie[0]!, from };
  }

  it('exchanges the admin token for an HttpOnly, SameSite=Strict, 8-hour cookie and a CSRF token', async () => {
    const s = await signIn();
    const c = at(s.from);
    expect(s.body.admin).toEqual({ id: 'admin-token', name: 'Admin token', via: 'token' });
    expect(s.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const expires = Date.parse(s.body.expiresAt);
    expect(Math.abs(expires - (Date.now() + 8 * 3600_000))).toBeLessThan(60_000);
    expect(s.setCookie).toMatch(/^intake_session=v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);
    expect(s.setCookie).toContain('Max-Age=28800');
    expect(s.setCookie).toContain('Path=/');
    expect(s.setCookie).toContain('HttpOnly');
    expect(s.setCookie).toContain('SameSite=Strict');
    expect(s.setCookie).not.toContain('Secure');
    // The token itself is nowhere in what the browser receives.
    expect(JSON.stringify(s.body) + s.setCookie).not.toContain(t.adminToken);

    const again = await c.get('/v1/session').set('Cookie', s.cookie);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual(s.body);
  });

  it('marks the cookie Secure when the request came over HTTPS through the trusted proxy', async () => {
    const c = at(nextAddress());
    const res = await c
      .post('/v1/session')
      .set('X-Forwarded-For', nextAddress())
      .set('X-Forwarded-Proto', 'https')
      .send({ token: t.adminToken });
    expect(res.status).toBe(200);
    expect((res.headers['set-cookie'] as unknown as string[])[0]).toContain('Secure');
  });

  it('answers 401 without a session, and signs out with 204 and a cleared cookie', async () => {
    const c = at(nextAddress());
    expectError(await c.get('/v1/session'), 401, 'unauthenticated');
    const s = await signIn(nextAddress());
    const out = await c.delete('/v1/session').set('Cookie', s.cookie);
    expect(out.status).toBe(204);
    const cleared = (out.headers['set-cookie'] as unknown as string[])[0]!;
    expect(cleared).toMatch(/^intake_session=;/);
    expect(cleared).toContain('Expires=Thu, 01 Jan 1970');
  });

  it('refuses a wrong or missing token with 401 and no cookie, counting each attempt until 429', async () => {
    const c = at(nextAddress());
    const attempts = [{ token: 'not-the-admin-token-0123456789abcdefghij' }, {}, { token: 42 }, { token: '' }];
    expect(attempts).toHaveLength(FAILED_ATTEMPTS);
    for (const body of attempts) {
      const res = await c.post('/v1/session').send(body);
      expectError(res, 401, 'unauthenticated');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // The limit is used up: even the right token is refused now, before it is looked at.
    const throttled = await c.post('/v1/session').send({ token: t.adminToken });
    expectError(throttled, 429, 'rate_limited');
    expect(throttled.headers['set-cookie']).toBeUndefined();
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is unaffected.
    await signIn();
  });

  it('refuses an expired session with 401 session_expired and shows no data', async () => {
    const c = at(nextAddress());
    const expired = t.services.sessions.issue(TOKEN_ADMIN, Date.now() - 8 * 3600_000 - 1000).cookie;
    const cookie = `intake_session=${expired}`;
    expectError(await c.get('/v1/session').set('Cookie', cookie), 401, 'session_expired');
    const list = await c.get('/v1/projects').set('Cookie', cookie);
    expectError(list, 401, 'session_expired');
    expect(list.body.items).toBeUndefined();
    expectError(await c.get(`/v1/projects/${p.id}/records`).set('Cookie', cookie), 401, 'session_expired');
    // Not counted as guesses: many more than the limit still get session_expired, not 429.
    for (let i = 0; i < FAILED_ATTEMPTS + 2; i++) expectError(await c.get('/v1/session').set('Cookie', cookie), 401, 'session_expired');
  });

  it('revokes every session when the admin token is rotated, and refuses a tampered cookie', async () => {
    const c = at(nextAddress());
    // A cookie signed under the previous token, as every open session is after a rotation.
    const previous = new SessionService('the-previous-admin-token-0123456789abcdef').issue(TOKEN_ADMIN).cookie;
    expectError(await c.get('/v1/session').set('Cookie', `intake_session=${previous}`), 401, 'unauthenticated');
    expectError(await c.get('/v1/projects').set('Cookie', `intake_session=${previous}`), 401, 'unauthenticated');

    const s = await signIn();
    const [version, payload, mac] = s.cookie.split('=')[1]!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: number };
    claims.exp += 365 * 24 * 3600_000;
    const stretched = `intake_session=${version}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
    expectError(await c.get('/v1/projects').set('Cookie', stretched), 401, 'unauthenticated');
  });

  it('refuses a cross-site POST without the CSRF token (403, nothing created) and accepts it with the token', async () => {
    const s = await signIn();
    const c = at(s.from);
    const id = uniqueName('csrf');
    const forged = await c
      .post('/v1/projects')
      .set('Cookie', s.cookie)
      .set('Origin', 'https://evil.example')
      .send({ id, name: 'forged' });
    expectError(forged, 403, 'csrf_failed');
    const wrong = await c.post('/v1/projects').set('Cookie', s.cookie).set('X-CSRF-Token', 'x'.repeat(43)).send({ id, name: 'forged' });
    expectError(wrong, 403, 'csrf_failed');
    // Another session's token does not fit this session either.
    const other = await signIn();
    const crossed = await c.post('/v1/projects').set('Cookie', s.cookie).set('X-CSRF-Token', other.csrf).send({ id, name: 'forged' });
    expectError(crossed, 403, 'csrf_failed');
    expect(await t.storage.control.getProject(id)).toBeNull();

    const made = await c.post('/v1/projects').set('Cookie', s.cookie).set('X-CSRF-Token', s.csrf).send({ id, name: 'from the console' });
    expect(made.status, made.text).toBe(201);
    expect((await t.storage.control.getProject(id))?.name).toBe('from the console');
  });

  it('lets a session act on a project (records, files, jobs) without an API key, CSRF still required', async () => {
    const s = await signIn();
    const c = at(s.from);
    const asConsole = (req: request.Test) => req.set('Cookie', s.cookie).set('X-CSRF-Token', s.csrf);

    const refused = await c.post(`/v1/projects/${p.id}/records`).set('Cookie', s.cookie).send({ n: 0 });
    expectError(refused, 403, 'csrf_failed');
    expect(await storedRecordCount(t, p)).toBe(0);
    const refusedUpload = await c
      .put(`/v1/projects/${p.id}/files/forged.csv`)
      .set('Cookie', s.cookie)
      .set('Content-Type', 'text/csv')
      .send('a,b\n1,2\n');
    expectError(refusedUpload, 403, 'csrf_failed');
    expect(await storedJobCount(t, p)).toBe(0);

    const pushed = await asConsole(c.post(`/v1/projects/${p.id}/records`)).send([{ n: 1 }, { n: 2 }]);
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.body.accepted).toBe(2);
    const list = await c.get(`/v1/projects/${p.id}/records`).set('Cookie', s.cookie);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    expect(list.body.items[0].source.keyId).toBe('admin');

    const upload = await asConsole(c.put(`/v1/projects/${p.id}/files/people.csv`))
      .set('Content-Type', 'text/csv')
      .send('name,age\nAda,36\n');
    expect(upload.status, upload.text).toBe(202);
    const jobs = await c.get(`/v1/projects/${p.id}/jobs`).set('Cookie', s.cookie);
    expect(jobs.status).toBe(200);
    expect(jobs.body.items.map((j: { id: string }) => j.id)).toContain(upload.body.jobId);
    const job = await c.get(`/v1/projects/${p.id}/jobs/${upload.body.jobId}`).set('Cookie', s.cookie);
    expect(job.status).toBe(200);
  });

  it('names the admin in audit events of actions taken in a session', async () => {
    const s = await signIn();
    const c = at(s.from);
    const id = uniqueName('aud');
    const made = await c.post('/v1/projects').set('Cookie', s.cookie).set('X-CSRF-Token', s.csrf).send({ id, name: 'audited' });
    expect(made.status).toBe(201);
    const event = logs.entries().find((e) => e.event === 'audit' && e.action === 'project_created' && e.projectId === id);
    expect(event).toMatchObject({ actor: 'admin', admin: { id: 'admin-token', name: 'Admin token', via: 'token' } });
    expect(logs.text).not.toContain(t.adminToken);
    expect(logs.text).not.toContain(s.cookie.split('=')[1]);
  });
});
