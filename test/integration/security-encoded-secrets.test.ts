// A key or the admin token percent-encoded into a URL path (whole, or one character
// encoded, or encoded twice) is masked in the 404 message and in every log line.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, createProject, expectError, LogCapture, type SecKey } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const encodeAll = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

describe('secrets percent-encoded in a path', () => {
  const logs = new LogCapture();
  let t: TestApp;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_LOG_LEVEL: 'debug' }, logStream: logs.stream });
    const p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  // Keys are ik_<id>_<secret>; the secret is base64url and may itself hold '_'.
  const secretPart = (k: string) => k.split('_').slice(2).join('_');

  it.each([
    ['a key encoded whole', (k: string) => encodeAll(k)],
    ['a key with one character encoded', (k: string) => k.replace('_', '%5F')],
    ['a key encoded twice', (k: string) => encodeAll(encodeAll(k))],
  ])('%s: the 404 message and the logs mask it', async (_name, encode) => {
    const res = await request(t.app).get(`/v1/nothing/${encode(key.key)}`);
    expectError(res, 404, 'route_not_found');
    expect(res.text).not.toContain(secretPart(key.key));
    expect(res.text).not.toContain(encode(key.key));
    // The message quotes the first 200 characters of the path: a longer one is cut before the secret ends.
    if (encode(key.key).length < 180) expect(res.body.error.message).toContain('[REDACTED]');
    expect(logs.text).not.toContain(secretPart(key.key));
    expect(logs.text).not.toContain(encode(key.key));
  });

  it('the admin token encoded in a path is masked too', async () => {
    const token = t.adminToken;
    const res = await request(t.app).get(`/v1/x/${encodeAll(token)}`);
    expectError(res, 404, 'route_not_found');
    expect(res.text).not.toContain(token);
    expect(res.text).not.toContain(encodeAll(token));
    expect(logs.text).not.toContain(token);
    expect(logs.text).not.toContain(encodeAll(token));
  });
});
