// Hostile JSON bodies on the record and admin routes: deep nesting, huge record counts,
// prototype-pollution keys, invalid UTF-8, wrong content types and oversized bodies.
// Each is refused (or stored as plain data) with its code, stores nothing it should not,
// and leaves the service answering.
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

const DEEP = 100_000;
const asBytes = (body: unknown) => body as string;

function expectNoPollution(): void {
  const probe: Record<string, unknown> = {};
  expect(probe.polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
}

describe('hostile JSON', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());
  afterEach(async () => {
    expectNoPollution();
    await expectHealthy(t.app);
  });

  // Bodies go out as the exact bytes given: superagent would otherwise JSON-encode a Buffer.
  const push = (body: string | Buffer, type = 'application/json') =>
    request(t.app).post(`/v1/projects/${p.id}/records`).set(key.header).set('Content-Type', type).serialize(asBytes).send(body);
  const createProjectRaw = (body: string | Buffer, type = 'application/json') =>
    request(t.app).post('/v1/projects').set(t.admin).set('Content-Type', type).serialize(asBytes).send(body);

  it('refuses JSON 100,000 levels deep on the record route before parsing it', async () => {
    expectError(await push('{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP)), 400, 'too_deep');
    // In an array or NDJSON the deep record is rejected on its own; the good ones are kept.
    const onlyDeep = await push('['.repeat(DEEP) + ']'.repeat(DEEP));
    expect(onlyDeep.status).toBe(200);
    expect(onlyDeep.body).toMatchObject({ accepted: 0, rejected: 1, errors: [{ index: 0, code: 'too_deep' }] });
    const arr = await push(`[{"ok":1},${'['.repeat(DEEP)}${']'.repeat(DEEP)}]`);
    expect(arr.status).toBe(200);
    expect(arr.body).toMatchObject({ accepted: 1, rejected: 1, errors: [{ index: 1, code: 'too_deep' }] });
    const nd = await push(`{"ok":1}\n${'['.repeat(DEEP)}${']'.repeat(DEEP)}\n`, 'application/x-ndjson');
    expect(nd.status).toBe(200);
    expect(nd.body).toMatchObject({ accepted: 1, rejected: 1, errors: [{ index: 1, code: 'too_deep' }] });
    expect(await storedRecordCount(t, p)).toBe(2);
  });

  it('refuses deep JSON on the admin routes: over 64 KB it is 413, under it the depth bound answers 400', async () => {
    const deep = (levels: number) => `{"id":"deep-one","name":"x","allowedIps":${'['.repeat(levels)}${']'.repeat(levels)}}`;
    expectError(await createProjectRaw(deep(DEEP)), 413, 'payload_too_large');
    expectError(await createProjectRaw(deep(20_000)), 400, 'invalid_body');
    const p2 = await createProject(t);
    const key2 = await request(t.app)
      .post(`/v1/projects/${p2.id}/keys`)
      .set(t.admin)
      .set('Content-Type', 'application/json')
      .send(`{"name":"k","rateLimit":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`);
    expectError(key2, 400, 'invalid_body');
    expect(await t.storage.control.getProject('deep-one')).toBeNull();
    expect(await t.storage.control.listKeys(p2.id)).toEqual([]);
  });

  it('refuses 100,000 tiny records in one body and stores none of them', async () => {
    const before = await storedRecordCount(t, p);
    expectError(await push(`[${Array(DEEP).fill('{}').join(',')}]`), 413, 'too_many_records');
    expectError(await push(`${Array(DEEP).fill('{}').join('\n')}\n`, 'application/x-ndjson'), 413, 'too_many_records');
    // Bigger tiny records pass the body limit (5 MiB) first.
    expectError(await push(`[${Array(DEEP).fill('{"field":"0123456789012345678901234567890123456789"}').join(',')}]`), 413, 'payload_too_large');
    expect(await storedRecordCount(t, p)).toBe(before);
  });

  it('refuses a gzip bomb on the record route by the decompressed size', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(200 * 1024);
    const gzipped = (body: Buffer) =>
      request(t.app)
        .post(`/v1/projects/${p.id}/records`)
        .set(key.header)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .serialize(asBytes)
        .send(body);
    expectError(await gzipped(bomb), 413, 'payload_too_large');
    // Not gzip at all, or cut short: refused as a bad body, not a server error.
    expectError(await gzipped(Buffer.from('{"a":1}')), 400, 'invalid_body');
    expectError(await gzipped(bomb.subarray(0, 1000)), 400, 'invalid_body');
  });

  it('keeps prototype-pollution keys at every level of a record as plain data', async () => {
    // JSON.stringify would drop a literal __proto__ key; build the text by hand.
    const text = '{"__proto__":{"polluted":"top"},"constructor":{"prototype":{"polluted":"ctor"}},"prototype":{"polluted":"proto"},' +
      '"nested":{"__proto__":{"polluted":"nested"},"list":[{"__proto__":{"polluted":"in-array"}},{"constructor":{"prototype":{"polluted":"deep"}}}]}}';
    for (const [body, type] of [
      [text, 'application/json'],
      [`[${text},${text}]`, 'application/json'],
      [`${text}\n${text}\n`, 'application/x-ndjson'],
    ] as const) {
      const res = await push(body, type);
      expect(res.status, res.text).toBe(200);
      expect(res.body.rejected).toBe(0);
      const id = res.body.records[0].id as string;
      const back = await request(t.app).get(`/v1/projects/${p.id}/records/${id}`).set(key.header);
      expect(back.status).toBe(200);
      // Read back byte for byte: the keys are data, not prototypes.
      expect(back.text).toContain(`"data":${text}`);
      expect(Object.keys(JSON.parse(back.text).data)).toEqual(['__proto__', 'constructor', 'prototype', 'nested']);
    }
  });

  it('refuses prototype-pollution keys in admin bodies at every level, creating nothing', async () => {
    const bodies = [
      '{"id":"proto-top","name":"x","__proto__":{"polluted":"yes"}}',
      '{"id":"proto-ctor","name":"x","constructor":{"prototype":{"polluted":"yes"}}}',
      '{"id":"proto-nest","name":"x","allowedIps":{"__proto__":{"polluted":"yes"}}}',
    ];
    for (const body of bodies) expectError(await createProjectRaw(body), 400, 'validation_failed');
    for (const id of ['proto-top', 'proto-ctor', 'proto-nest']) expect(await t.storage.control.getProject(id)).toBeNull();
    const p2 = await createProject(t);
    const keyBody = '{"name":"k","rateLimit":{"requests":5,"windowSeconds":60,"__proto__":{"polluted":"yes"}}}';
    const res = await request(t.app).post(`/v1/projects/${p2.id}/keys`).set(t.admin).set('Content-Type', 'application/json').send(keyBody);
    expectError(res, 400, 'validation_failed');
    expect(await t.storage.control.listKeys(p2.id)).toEqual([]);
  });

  it('does not let pollution keys in query strings or header names reach a prototype', async () => {
    const res = await request(t.app)
      .get(`/v1/projects/${p.id}/records?__proto__[polluted]=q&constructor[prototype][polluted]=q&__proto__.polluted=q`)
      .set(key.header)
      .set('__proto__', 'header');
    // They are no parameters of the listing: refused by name, and nothing reached a prototype.
    expectError(res, 400, 'unknown_parameter');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses invalid UTF-8 inside JSON strings rather than storing replacement characters', async () => {
    const bad = [
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xc0, 0xaf]), // overlong "/"
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
      Buffer.from([0xe2, 0x82]), // truncated sequence
    ];
    const before = await storedRecordCount(t, p);
    for (const bytes of bad) {
      const body = Buffer.concat([Buffer.from('{"name":"'), bytes, Buffer.from('"}')]);
      expectError(await push(body), 400, 'invalid_utf8');
      expectError(await push(Buffer.concat([body, Buffer.from('\n')]), 'application/x-ndjson'), 400, 'invalid_utf8');
      const admin = Buffer.concat([Buffer.from('{"id":"utf8-bad","name":"'), bytes, Buffer.from('"}')]);
      expectError(await createProjectRaw(admin), 400, 'invalid_utf8');
    }
    expect(await storedRecordCount(t, p)).toBe(before);
    expect(await t.storage.control.getProject('utf8-bad')).toBeNull();
  });

  it('refuses bodies whose content type is not the route\'s (415) before reading them', async () => {
    const before = await storedRecordCount(t, p);
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16']) {
      expectError(await push('{"a":1}', type), 415, 'unsupported_media_type');
      expectError(await createProjectRaw('{"id":"ctype-x","name":"x"}', type), 415, 'unsupported_media_type');
    }
    const none = await request(t.app).post(`/v1/projects/${p.id}/records`).set(key.header).serialize(asBytes).send(Buffer.from('{"a":1}'));
    expectError(none, 415, 'unsupported_media_type');
    const multipart = await request(t.app).post(`/v1/projects/${p.id}/files`).set(key.header).set('Content-Type', 'application/json').send('{}');
    expectError(multipart, 415, 'unsupported_media_type');
    expect(await storedRecordCount(t, p)).toBe(before);
    expect(await t.storage.control.getProject('ctype-x')).toBeNull();
  });

  it('bounds admin bodies at 64 KB', async () => {
    const body = JSON.stringify({ id: 'too-big', name: 'x'.repeat(64 * 1024) });
    expectError(await createProjectRaw(body), 413, 'payload_too_large');
    expect(await t.storage.control.getProject('too-big')).toBeNull();
  });
});
