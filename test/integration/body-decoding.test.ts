// A body that does not decode for its Content-Encoding is 400 invalid_body, whatever the
// decoder and however it fails (gzip bytes declared as br answered 500 before), and
// nothing is stored; a well-encoded body of each kind is read as sent.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, createProject, expectError, storedRecordCount, type SecKey, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const BODY = Buffer.from('{"email":"ann@example.com"}');

describe('Content-Encoding of pushes', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  const push = (encoding: string, body: Buffer) =>
    request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(key.header)
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', encoding)
      .serialize((raw: unknown) => raw as string)
      .send(body);

  it.each([
    ['gzip bytes declared as br', 'br', gzipSync(BODY)],
    ['plain JSON declared as br', 'br', BODY],
    ['brotli bytes declared as gzip', 'gzip', brotliCompressSync(BODY)],
    ['gzip bytes declared as deflate', 'deflate', gzipSync(BODY)],
    ['a truncated gzip body', 'gzip', gzipSync(BODY).subarray(0, 12)],
  ])('%s: 400 invalid_body, nothing stored', async (_name, encoding, body) => {
    const before = await storedRecordCount(t, p);
    expectError(await push(encoding, body), 400, 'invalid_body');
    expect(await storedRecordCount(t, p)).toBe(before);
  });

  it('refuses an encoding it does not know with 415', async () => {
    expectError(await push('compress', BODY), 415, 'unsupported_encoding');
  });

  it.each([
    ['gzip', gzipSync(BODY)],
    ['deflate', deflateSync(BODY)],
    ['br', brotliCompressSync(BODY)],
    ['identity', BODY],
  ])('reads a %s body as sent', async (encoding, body) => {
    const res = await push(encoding, body);
    expect(res.status, res.text).toBe(200);
    expect(res.body.accepted).toBe(1);
  });
});
