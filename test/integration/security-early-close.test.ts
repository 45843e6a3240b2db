// A request answered before its body was read (401, 403, 413, 415) loses its connection
// at once instead of keeping it while the rest of the body is read and thrown away: a
// client announcing a gigabyte and trickling it is closed within the grace period, and an
// over-limit push is refused without the server reading its hundreds of megabytes.
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, UNREAD_BODY_CLOSE_GRACE_MS } from '../../src/http/http-server.js';
import { createKey, createProject, storedRecordCount, type SecKey, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

interface Exchange {
  status: number;
  code: string | undefined;
  closedAfterMs: number;
  bytesWritten: number;
}

/**
 * Sends the head of a request, then `body` bytes: trickled one byte a second, or as fast as
 * the socket takes them. Resolves once the server has closed the connection.
 */
function exchange(port: number, head: string, mode: 'trickle' | 'flood'): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let text = '';
    let bytesWritten = 0;
    let timer: NodeJS.Timeout | undefined;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const flood = () => {
      while (!socket.destroyed && socket.writable) {
        bytesWritten += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', flood);
          return;
        }
      }
    };
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => {
      clearInterval(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const code = /"code":"([a-z_]+)"/.exec(text)?.[1];
      resolve({ status, code, closedAfterMs: Date.now() - started, bytesWritten });
    });
    socket.once('connect', () => {
      socket.write(head);
      if (mode === 'flood') flood();
      else {
        socket.write(' ');
        timer = setInterval(() => socket.writable && socket.write(' '), 1000);
      }
    });
    setTimeout(() => reject(new Error(`connection still open after 20 s; got ${text.slice(0, 200)}`)), 20_000).unref();
  });
}

describe('connections of requests answered before their body was read', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  let other: SecKey;
  let server: ReturnType<typeof createHttpServer>;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProject(t);
    key = await createKey(t, p.id);
    other = await createKey(t, (await createProject(t)).id);
    server = createHttpServer(t.app, t.config.http);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  const head = (headers: Record<string, string>, length: number) =>
    `POST /v1/projects/${p.id}/records HTTP/1.1\r\nHost: intake\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    `Content-Length: ${length}\r\n\r\n`;

  // Well under the idle timeout and the slow-body guard's window: only the early close explains it.
  const CLOSED_WITHIN_MS = UNREAD_BODY_CLOSE_GRACE_MS + 2000;

  it.each([
    ['no credential', 401, 'unauthenticated', {}],
    ['a key of another project', 403, 'key_not_for_project', { 'X-API-Key': 'OTHER' }],
    ['a media type not accepted', 415, 'unsupported_media_type', { 'X-API-Key': 'KEY', 'Content-Type': 'text/plain' }],
    ['a body over the limit', 413, 'payload_too_large', { 'X-API-Key': 'KEY', 'Content-Type': 'application/json' }],
  ])('%s: answered %i %s and closed while the body trickles in', async (_name, status, code, headers: Record<string, string>) => {
    const resolved = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, v === 'KEY' ? key.key : v === 'OTHER' ? other.key : v]),
    );
    const result = await exchange(port, head({ 'Content-Type': 'application/json', ...resolved }, 1_000_000_000), 'trickle');
    expect(result.status).toBe(status);
    expect(result.code).toBe(code);
    expect(result.closedAfterMs).toBeLessThan(CLOSED_WITHIN_MS);
    expect(await storedRecordCount(t, p)).toBe(0);
  });

  it('refuses a 400 MB push with 413 without reading it', async () => {
    const result = await exchange(port, head({ 'X-API-Key': key.key, 'Content-Type': 'application/json' }, 400 * 1024 * 1024), 'flood');
    expect(result.status).toBe(413);
    expect(result.code).toBe('payload_too_large');
    expect(result.closedAfterMs).toBeLessThan(CLOSED_WITHIN_MS);
    // What the socket buffers take before TCP holds the sender, far from 400 MB.
    expect(result.bytesWritten).toBeLessThan(64 * 1024 * 1024);
    expect(await storedRecordCount(t, p)).toBe(0);
  });

  it('429: an address past its failed attempts is answered and closed while the body trickles in', async () => {
    const limited = await createTestApp({ env: { INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: '1' } });
    const limitedServer = createHttpServer(limited.app, limited.config.http);
    await new Promise<void>((resolve) => limitedServer.listen(0, '127.0.0.1', resolve));
    const limitedPort = (limitedServer.address() as AddressInfo).port;
    try {
      const refused = await exchange(limitedPort, head({ 'Content-Type': 'application/json' }, 1_000_000_000), 'trickle');
      expect(refused.status).toBe(401);
      const throttled = await exchange(limitedPort, head({ 'Content-Type': 'application/json' }, 1_000_000_000), 'trickle');
      expect(throttled.status).toBe(429);
      expect(throttled.code).toBe('rate_limited');
      expect(throttled.closedAfterMs).toBeLessThan(CLOSED_WITHIN_MS);
    } finally {
      limitedServer.closeAllConnections();
      await new Promise((resolve) => limitedServer.close(resolve));
      await limited.close();
    }
  });

  it('keeps the connection of a request whose body was read', async () => {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const body = '{"kept":1}';
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write(head({ 'X-API-Key': key.key, 'Content-Type': 'application/json' }, body.length) + body);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (text.includes('"accepted":1')) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    await new Promise((resolve) => setTimeout(resolve, UNREAD_BODY_CLOSE_GRACE_MS + 200));
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});
