// Zero-trust sign-in: Cloudflare Access and AWS ALB (OIDC) assertions verified against keys
// served by a key server this test starts, signed with keys generated here. A valid
// assertion makes its identity the admin (console session, admin API, CSRF for changes);
// an unsigned, mis-signed, unknown-key, expired, wrong-audience or wrong-issuer one is
// refused with 401 and logged; an identity outside the allowlist gets 403.
import http from 'node:http';
import { KeyObject, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { uniqueName } from '../support/endpoints.js';
import { expectError, LogCapture } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const AUDIENCE = 'intake-console-aud-0123456789';
const ALB_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/intake/50dc6c495c0c9188';
const ALB_KID = '5a8e4b2c-1d3f-4e6a-9b7c-0f1e2d3c4b5a';
const CF_KID = 'cf-key-1';

describe('zero-trust sign-in', () => {
  let t: TestApp;
  let keyServer: http.Server;
  let teamDomain: string;
  let cfKey: CryptoKey;
  let otherCfKey: CryptoKey;
  let albKey: CryptoKey;
  const logs = new LogCapture();

  beforeAll(async () => {
    const cf = await generateKeyPair('RS256', { extractable: true });
    otherCfKey = (await generateKeyPair('RS256', { extractable: true })).privateKey;
    const alb = await generateKeyPair('ES256', { extractable: true });
    cfKey = cf.privateKey;
    albKey = alb.privateKey;
    const jwks = { keys: [{ ...(await exportJWK(cf.publicKey)), kid: CF_KID, alg: 'RS256', use: 'sig' } satisfies JWK] };
    const albPem = await exportSPKI(alb.publicKey);
    keyServer = http.createServer((req, res) => {
      if (req.url === '/cdn-cgi/access/certs') {
        res.setHeader('content-type', 'application/json').end(JSON.stringify(jwks));
      } else if (req.url === `/alb/${ALB_KID}`) {
        res.setHeader('content-type', 'text/plain').end(albPem);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    keyServer.listen(0, '127.0.0.1');
    await new Promise((resolve) => keyServer.once('listening', resolve));
    teamDomain = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
    t = await createTestApp({
      mode: 'embedded',
      env: {
        INTAKE_LOG_LEVEL: 'info',
        INTAKE_ACCESS_TEAM_DOMAIN: teamDomain,
        INTAKE_ACCESS_AUDIENCE: AUDIENCE,
        INTAKE_ALB_ARN: ALB_ARN,
        INTAKE_ALB_KEYS_URL: `${teamDomain}/alb`,
        INTAKE_ADMIN_EMAILS: 'Ada@Example.com',
        INTAKE_ADMIN_GROUPS: 'platform',
        // Every refusal below counts against the one test address; the limit is not under test here.
        INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: '1000',
      },
      logStream: logs.stream,
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => keyServer.close(resolve));
  });

  const now = () => Math.floor(Date.now() / 1000);

  function accessJwt(claims: Record<string, unknown> = {}, options: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: number } = {}) {
    return new SignJWT({ email: 'ada@example.com', name: 'Ada Lovelace', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? CF_KID })
      .setSubject('cf-user-1')
      .setIssuer(options.iss ?? teamDomain)
      .setAudience(options.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.exp ?? now() + 600)
      .sign(options.key ?? cfKey);
  }

  /** base64url WITH `=` padding, as the ALB writes every segment. */
  const paddedBytes = (bytes: Buffer) => {
    const text = bytes.toString('base64url');
    return text + '='.repeat((4 - (text.length % 4)) % 4);
  };
  const padded = (value: object) => paddedBytes(Buffer.from(JSON.stringify(value)));

  /** An ALB-style token: padded segments, ES256 over the padded text, signer and exp in the header. */
  function albJwt(options: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {}) {
    const exp = now() + 120;
    const header = padded({ typ: 'JWT', kid: ALB_KID, alg: 'ES256', iss: 'https://idp.example', client: 'intake', signer: ALB_ARN, exp, ...options.header });
    const claims: Record<string, unknown> = { sub: 'alb-user-7', email: 'grace@example.com', 'cognito:groups': ['platform'], exp, iss: 'https://idp.example', ...options.claims };
    // Lengthen the claims until their encoding needs padding too, like most real ones.
    while (JSON.stringify(claims).length % 3 === 0) claims.nonce = `${String(claims.nonce ?? '')}x`;
    const payload = padded(claims);
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: KeyObject.from(albKey), dsaEncoding: 'ieee-p1363' });
    return `${header}.${payload}.${paddedBytes(signature)}`;
  }

  const cf = (jwt: string) => ({ 'Cf-Access-Jwt-Assertion': jwt });

  it('opens a session for a verified Cloudflare Access identity and serves the admin API to it', async () => {
    const jwt = await accessJwt();
    const res = await request(t.app).get('/v1/session').set(cf(jwt));
    expect(res.status, res.text).toBe(200);
    expect(res.body.admin).toEqual({ id: 'ada@example.com', name: 'Ada Lovelace', via: 'cloudflare-access' });
    expect((res.headers['set-cookie'] as unknown as string[])[0]).toMatch(/^intake_session=v1\..*HttpOnly.*SameSite=Strict/);
    const list = await request(t.app).get('/v1/projects').set(cf(jwt));
    expect(list.status, list.text).toBe(200);
  });

  it('needs the CSRF token for changes made with an assertion, and names the person in the audit event', async () => {
    const jwt = await accessJwt();
    const id = uniqueName('zt');
    const forged = await request(t.app).post('/v1/projects').set(cf(jwt)).send({ id, name: 'forged' });
    expectError(forged, 403, 'csrf_failed');
    expect(await t.storage.control.getProject(id)).toBeNull();

    // A client that keeps only the assertion (no cookie) uses the token GET /v1/session gave it.
    const session = await request(t.app).get('/v1/session').set(cf(jwt));
    const made = await request(t.app).post('/v1/projects').set(cf(jwt)).set('X-CSRF-Token', session.body.csrfToken).send({ id, name: 'zero trust' });
    expect(made.status, made.text).toBe(201);
    const event = logs.entries().find((e) => e.event === 'audit' && e.action === 'project_created' && e.projectId === id);
    expect(event).toMatchObject({ actor: 'admin', admin: { id: 'ada@example.com', name: 'Ada Lovelace', via: 'cloudflare-access' } });

    // The cookie that session set works on its own, with the same token.
    const cookie = (session.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const keys = await request(t.app).post(`/v1/projects/${id}/keys`).set('Cookie', cookie).set('X-CSRF-Token', session.body.csrfToken).send({ name: 'k' });
    expect(keys.status, keys.text).toBe(201);
  });

  const unsigned = () =>
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.` +
    `${Buffer.from(JSON.stringify({ sub: 'x', email: 'ada@example.com', iss: teamDomain, aud: AUDIENCE, exp: now() + 600 })).toString('base64url')}.`;

  const refusedAccess: [string, () => Promise<string>, string][] = [
    ['alg none', async () => unsigned(), 'ERR_JOSE_ALG_NOT_ALLOWED'],
    ['a wrong signature', () => accessJwt({}, { key: otherCfKey }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['an unknown key id', () => accessJwt({}, { kid: 'not-a-known-kid' }), 'ERR_JWKS_NO_MATCHING_KEY'],
    ['an expired token', () => accessJwt({}, { exp: now() - 3600 }), 'ERR_JWT_EXPIRED'],
    ['a wrong audience', () => accessJwt({}, { aud: 'another-application' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a wrong issuer', () => accessJwt({}, { iss: 'https://evil.cloudflareaccess.com' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
  ];

  it.each(refusedAccess)('refuses a Cloudflare assertion with %s: 401, no cookie, nothing done, logged', async (_what, make, code) => {
    const jwt = await make();
    const res = await request(t.app).get('/v1/session').set(cf(jwt));
    expectError(res, 401, 'unauthenticated');
    expect(res.headers['set-cookie']).toBeUndefined();
    const logged = logs.entries().find((e) => e.event === 'auth_failed' && e.requestId === res.headers['x-request-id']);
    expect(logged).toMatchObject({ reason: 'invalid_assertion', detail: `cloudflare-access: ${code}` });
    const id = uniqueName('ztbad');
    expectError(await request(t.app).post('/v1/projects').set(cf(jwt)).set('X-CSRF-Token', 'x').send({ id, name: 'n' }), 401, 'unauthenticated');
    expect(await t.storage.control.getProject(id)).toBeNull();
  });

  it('refuses a verified identity outside the allowlist with 403 admin_not_allowed', async () => {
    const res = await request(t.app).get('/v1/session').set(cf(await accessJwt({ email: 'mallory@example.com', name: 'Mallory' })));
    expectError(res, 403, 'admin_not_allowed');
    expect(res.headers['set-cookie']).toBeUndefined();
    const logged = logs.entries().find((e) => e.event === 'auth_failed' && e.requestId === res.headers['x-request-id']);
    expect(logged).toMatchObject({ reason: 'admin_not_allowed', detail: 'cloudflare-access: mallory@example.com' });
    // The same person in an allowed group is let in.
    const grouped = await request(t.app).get('/v1/session').set(cf(await accessJwt({ email: 'mallory@example.com', groups: ['platform'] })));
    expect(grouped.status, grouped.text).toBe(200);
  });

  it('verifies an ALB OIDC assertion whose segments carry base64 padding', async () => {
    const jwt = albJwt();
    for (const segment of jwt.split('.')) expect(segment).toMatch(/=$/);
    const res = await request(t.app).get('/v1/session').set('x-amzn-oidc-data', jwt);
    expect(res.status, res.text).toBe(200);
    expect(res.body.admin).toEqual({ id: 'grace@example.com', name: 'grace@example.com', via: 'alb-oidc' });
  });

  const refusedAlb: [string, () => string][] = [
    ['another signer', () => albJwt({ header: { signer: 'arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/other/1' } })],
    ['an expired header', () => albJwt({ header: { exp: now() - 3600 } })],
    ['an unknown key id', () => albJwt({ header: { kid: '00000000-0000-0000-0000-000000000000' } })],
    ['an edited payload', () => {
      const [h, , s] = albJwt().split('.');
      return `${h}.${padded({ sub: 'x', email: 'grace@example.com', exp: now() + 600 })}.${s}`;
    }],
    ['alg none', () => `${padded({ alg: 'none', kid: ALB_KID, signer: ALB_ARN, exp: now() + 60 })}.${padded({ sub: 'x', email: 'grace@example.com' })}.`],
  ];

  it.each(refusedAlb)('refuses an ALB assertion with %s: 401, logged', async (_what, make) => {
    const res = await request(t.app).get('/v1/projects').set('x-amzn-oidc-data', make());
    expectError(res, 401, 'unauthenticated');
    const logged = logs.entries().find((e) => e.event === 'auth_failed' && e.requestId === res.headers['x-request-id']);
    expect(logged).toMatchObject({ reason: 'invalid_assertion' });
    expect(String(logged?.detail)).toMatch(/^alb-oidc: /);
  });

  it('refuses a half or open zero-trust configuration at start', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ INTAKE_STORAGE: 'embedded', ...env });
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
    };
    const allow = { INTAKE_ADMIN_EMAILS: 'ada@example.com' };
    expect(problems({ INTAKE_ACCESS_TEAM_DOMAIN: 'https://team.cloudflareaccess.com', ...allow }).join()).toMatch(/INTAKE_ACCESS_AUDIENCE/);
    expect(problems({ INTAKE_ACCESS_TEAM_DOMAIN: 'http://team.example.com', INTAKE_ACCESS_AUDIENCE: 'a', ...allow }).join()).toMatch(/https/);
    expect(problems({ INTAKE_ACCESS_TEAM_DOMAIN: 'https://team.cloudflareaccess.com', INTAKE_ACCESS_AUDIENCE: 'a' }).join()).toMatch(/INTAKE_ADMIN_EMAILS/);
    expect(problems({ INTAKE_ALB_ARN: ALB_ARN, ...allow }).join()).toMatch(/INTAKE_ALB_REGION/);
    const config = loadConfig({ INTAKE_STORAGE: 'embedded', INTAKE_ALB_ARN: ALB_ARN, INTAKE_ALB_REGION: 'eu-west-1', ...allow });
    expect(config.zeroTrust.alb).toEqual({ signer: ALB_ARN, keysUrl: 'https://public-keys.auth.elb.eu-west-1.amazonaws.com' });
  });
});
