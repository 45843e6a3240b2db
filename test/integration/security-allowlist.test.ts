// IP allowlists per project and per key, and the client address they see: the socket
// address by default (a forged X-Forwarded-For changes nothing), or the address one
// trusted proxy hop back with INTAKE_TRUST_PROXY_HOPS=1 (as behind an ALB).
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKey,
  createProject,
  expectError,
  expectHealthy,
  storedRecordCount,
  type SecKey,
  type SecProject,
} from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const OUTSIDE = '198.51.100.7';

describe('allowlists with the default proxy trust (no hop trusted)', () => {
  let t: TestApp;
  let p: SecProject;
  let local: SecKey;
  let remote: SecKey;
  beforeAll(async () => {
    t = await createTestApp();
    expect(t.config.trustProxyHops).toBe(0);
    p = await createProject(t);
    local = await createKey(t, p.id, { allowedIps: ['127.0.0.1/32', '::1'] });
    remote = await createKey(t, p.id, { allowedIps: ['203.0.113.0/24'] });
  });
  afterAll(async () => t.close());

  const read = (key: SecKey, xff?: string) => {
    const req = request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header);
    return xff === undefined ? req : req.set('X-Forwarded-For', xff);
  };

  it('lets a key in from its own address (IPv4 clients on a dual-stack socket arrive IPv4-mapped)', async () => {
    expect((await read(local)).status).toBe(200);
  });

  it('ignores a forged X-Forwarded-For that claims an outside address', async () => {
    expect((await read(local, OUTSIDE)).status).toBe(200);
  });

  it('refuses a key from outside its allowlist, with or without a forged X-Forwarded-For naming an allowed address', async () => {
    expectError(await read(remote), 403, 'ip_not_allowed');
    expectError(await read(remote, '203.0.113.9'), 403, 'ip_not_allowed');
    expectError(await read(remote, '203.0.113.9, 203.0.113.10'), 403, 'ip_not_allowed');
    const push = await request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(remote.header)
      .set('X-Forwarded-For', '203.0.113.9')
      .send({ a: 1 });
    expectError(push, 403, 'ip_not_allowed');
    expect(await storedRecordCount(t, p)).toBe(0);
    await expectHealthy(t.app);
  });
});

describe('allowlists behind one trusted proxy hop (INTAKE_TRUST_PROXY_HOPS=1)', () => {
  let t: TestApp;
  let p: SecProject;
  let any: SecKey;
  let narrow: SecKey;
  let v6: SecKey;
  let wider: SecKey;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_TRUST_PROXY_HOPS: '1' } });
    p = await createProject(t, { allowedIps: ['203.0.113.0/24', '2001:db8::/32'] });
    any = await createKey(t, p.id);
    narrow = await createKey(t, p.id, { allowedIps: ['203.0.113.128/25'] });
    v6 = await createKey(t, p.id, { allowedIps: ['2001:db8:1::/48'] });
    // A key cannot widen its project's list: this range is outside it.
    wider = await createKey(t, p.id, { allowedIps: [`${OUTSIDE}/32`] });
  });
  afterAll(async () => t.close());

  const read = (key: SecKey, xff?: string) => {
    const req = request(t.app).get(`/v1/projects/${p.id}/records`).set(key.header);
    return xff === undefined ? req : req.set('X-Forwarded-For', xff);
  };

  it('stores and shows the project allowlist', async () => {
    expect(p.project.allowedIps).toEqual(['203.0.113.0/24', '2001:db8::/32']);
    const shown = await request(t.app).get(`/v1/projects/${p.id}`).set(t.admin);
    expect(shown.body.allowedIps).toEqual(['203.0.113.0/24', '2001:db8::/32']);
  });

  it('takes the client address from the last hop of X-Forwarded-For', async () => {
    expect((await read(any, '203.0.113.9')).status).toBe(200);
    // The proxy appends the address it saw; anything the client wrote before it is ignored.
    expect((await read(any, `${OUTSIDE}, 203.0.113.9`)).status).toBe(200);
    expectError(await read(any, `203.0.113.9, ${OUTSIDE}`), 403, 'ip_not_allowed');
  });

  it('refuses addresses outside the project list, and requests that did not come through the proxy', async () => {
    expectError(await read(any, OUTSIDE), 403, 'ip_not_allowed');
    expectError(await read(any), 403, 'ip_not_allowed');
    expectError(await read(wider, OUTSIDE), 403, 'ip_not_allowed');
  });

  it("narrows the project's list with the key's own", async () => {
    expectError(await read(narrow, '203.0.113.9'), 403, 'ip_not_allowed');
    expect((await read(narrow, '203.0.113.200')).status).toBe(200);
  });

  it('lets an allowed IPv6 client in, however its address is written', async () => {
    expect((await read(v6, '2001:db8:1::42')).status).toBe(200);
    expect((await read(v6, '2001:0db8:0001:0000:0000:0000:0000:0042')).status).toBe(200);
    expect((await read(any, '2001:db8:ffff::1')).status).toBe(200);
    expectError(await read(v6, '2001:db8:2::1'), 403, 'ip_not_allowed');
    expectError(await read(any, '2001:db9::1'), 403, 'ip_not_allowed');
  });

  it('matches an IPv4-mapped IPv6 address against IPv4 ranges', async () => {
    expect((await read(any, '::ffff:203.0.113.9')).status).toBe(200);
    expectError(await read(any, `::ffff:${OUTSIDE}`), 403, 'ip_not_allowed');
  });

  it('treats an address that is not an address as outside every list', async () => {
    expectError(await read(any, 'not-an-address'), 403, 'ip_not_allowed');
    expectError(await read(any, '203.0.113.9:443'), 403, 'ip_not_allowed');
  });

  it('stores nothing for a refused push and stays healthy', async () => {
    const push = await request(t.app).post(`/v1/projects/${p.id}/records`).set(any.header).set('X-Forwarded-For', OUTSIDE).send([{ a: 1 }]);
    expectError(push, 403, 'ip_not_allowed');
    const accepted = await request(t.app).post(`/v1/projects/${p.id}/records`).set(any.header).set('X-Forwarded-For', '203.0.113.9').send([{ a: 1 }]);
    expect(accepted.status).toBe(200);
    expect(await storedRecordCount(t, p)).toBe(1);
    await expectHealthy(t.app);
  });
});

describe('invalid allowlists are refused whole', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  const invalid = [
    ['10.0.0.0/33'],
    ['2001:db8::/129'],
    ['not-an-ip'],
    ['300.1.1.1'],
    ['10.0.0'],
    [''],
    ['10.0.0.0/8', '10.0.0.0/-1'],
    ['1.2.3.4'.padEnd(65, ' ')],
    Array.from({ length: 101 }, (_, i) => `10.0.${i}.0/24`),
  ];

  it('at project creation: 400 and no project', async () => {
    for (const allowedIps of invalid) {
      const id = `bad-ips-${Math.random().toString(36).slice(2, 10)}`;
      const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: 'Bad', allowedIps });
      expectError(res, 400, 'validation_failed');
      expect(await t.storage.control.getProject(id)).toBeNull();
    }
    await expectHealthy(t.app);
  });

  it('at key creation: 400 and no key', async () => {
    const p = await createProject(t);
    for (const allowedIps of invalid) {
      const res = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'k', allowedIps });
      expectError(res, 400, 'validation_failed');
    }
    expect(await t.storage.control.listKeys(p.id)).toEqual([]);
    await expectHealthy(t.app);
  });
});
