// Client addresses from X-Forwarded-For are read as strictly as allowlist entries: the
// lenient forms of 10.1.2.3 (octal, a single integer, hex) and an IPv6 address that ends in
// a dotted quad are not the IPv4 address they resemble, so they match no IPv4 entry and a
// request carrying one is refused where an allowlist applies. Nothing is stored for them.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, createProject, expectError, storedRecordCount, type SecKey, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('client addresses behind a trusted proxy hop', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_TRUST_PROXY_HOPS: '1' } });
    p = await createProject(t, { allowedIps: ['10.1.2.3', '127.0.0.21', '2001:db8::/32'] });
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  const push = (xff: string) =>
    request(t.app).post(`/v1/projects/${p.id}/records`).set(key.header).set('X-Forwarded-For', xff).send({ from: xff });

  it.each(['012.001.002.003', '167838211', '0xa.1.2.3', '10.1.2', '10.1.2.3.', '::127.0.0.21', '::7f00:15', 'fe80::1%eth0', 'localhost'])(
    'refuses %s (403 ip_not_allowed) and stores nothing',
    async (xff) => {
      const before = await storedRecordCount(t, p);
      expectError(await push(xff), 403, 'ip_not_allowed');
      expect(await storedRecordCount(t, p)).toBe(before);
    },
  );

  it.each(['10.1.2.3', '127.0.0.21', '::ffff:10.1.2.3', '::ffff:a01:203', '2001:db8::1'])('accepts the strict form %s', async (xff) => {
    const before = await storedRecordCount(t, p);
    const res = await push(xff);
    expect(res.status, res.text).toBe(200);
    expect(await storedRecordCount(t, p)).toBe(before + 1);
  });
});
