// Slow and oversized clients against the real server process (`src/main/server.ts`, aws
// mode on the emulators), over raw sockets as an attacker would send them: headers
// trickled a byte a second, a body trickled a byte a second, 64 KB of headers. Each is
// cut off with a clean answer while a large upload that keeps sending gets through.
// Also: the server refuses to start with a weak admin token, and a real IPv6 client.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/http-server.js';
import { testAwsEnv, uniqueName } from '../support/endpoints.js';
import { createKey, createProject, expectNothingStored, type SecKey, type SecProject } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN_TOKEN = 'slowloris-admin-token-0123456789abcdefghijklmnop';
const HEADERS_TIMEOUT_MS = 2000;
const BODY_WINDOW_MS = 1000;

interface Child {
  process: ChildProcess;
  port: number;
  output: () => string;
  exit: Promise<number | null>;
}

function startServer(env: Record<string, string>): Child {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(INTAKE_|AWS_|PORT$|HOST$|VITEST|NODE_OPTIONS$)/.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/server.ts'], {
    cwd: ROOT,
    env: { ...clean, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, port: 0, output: () => output, exit };
}

/** Waits for the JSON `started` line and reads the port the server bound (PORT=0). */
async function started(child: Child, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = child.output().split('\n').find((l) => l.includes('"event":"started"'));
    if (line) return (JSON.parse(line) as { port: number }).port;
    if (child.process.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface RawResult {
  text: string;
  closedAfterMs: number;
}

/** Opens a socket, lets `drive` write to it, and collects everything until the server closes it. */
function rawExchange(port: number, drive: (socket: net.Socket) => void, host = '127.0.0.1'): Promise<RawResult> {
  return new Promise((resolve) => {
    const opened = Date.now();
    const socket = net.connect(port, host, () => drive(socket));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer is fine; the answer is what is checked
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - opened }));
  });
}

/** Writes one byte a second until the socket is closed. */
function trickle(socket: net.Socket, byte = 'a'): void {
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) clearInterval(timer);
    else socket.write(byte);
  }, 1000);
  socket.once('close', () => clearInterval(timer));
}

const jsonBodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };

describe('slow and oversized clients against the server process', () => {
  let child: Child;
  let port: number;
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  let api: string;

  beforeAll(async () => {
    const aws = testAwsEnv();
    const prefix = `${uniqueName('slow')}-`;
    child = startServer({
      INTAKE_STORAGE: 'aws',
      INTAKE_ADMIN_TOKEN: ADMIN_TOKEN,
      INTAKE_NAME_PREFIX: prefix,
      INTAKE_POLLER: 'off',
      INTAKE_LOG_LEVEL: 'info',
      INTAKE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      INTAKE_MIN_BODY_BYTES_PER_SECOND: '1024',
      INTAKE_BODY_RATE_WINDOW_MS: String(BODY_WINDOW_MS),
      PORT: '0',
      HOST: '127.0.0.1',
      AWS_REGION: aws.region,
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    });
    port = await started(child);
    api = `http://127.0.0.1:${port}`;
    // A test app over the same tables reads storage back; requests go to the child.
    t = await createTestApp({ env: { INTAKE_NAME_PREFIX: prefix, INTAKE_ADMIN_TOKEN: ADMIN_TOKEN } });
    const admin = { ...t, admin: { Authorization: `Bearer ${ADMIN_TOKEN}` } };
    p = await createProject(admin, {}, api);
    key = await createKey(admin, p.id, {}, api);
  });
  afterAll(async () => {
    child.process.kill('SIGTERM');
    await child.exit;
    await t.close();
  });

  const healthy = async () => expect((await request(api).get('/healthz')).status).toBe(200);

  it('cuts off a client that trickles its headers a byte a second, with a 408', async () => {
    const [slow] = await Promise.all([
      rawExchange(port, (socket) => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Slow: ');
        trickle(socket);
      }),
      healthy(), // others are served meanwhile
    ]);
    expect(slow.text.startsWith('HTTP/1.1 408 ')).toBe(true);
    expect(jsonBodyOf(slow.text).error.code).toBe('request_timeout');
    expect(slow.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(slow.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2000);
    await healthy();
  });

  it('cuts off a connection that never sends anything', async () => {
    const idle = await rawExchange(port, () => undefined);
    expect(idle.text.startsWith('HTTP/1.1 408 ')).toBe(true);
    expect(idle.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2000);
  });

  it('cuts off a body trickled a byte a second, storing nothing', async () => {
    for (const [method, route, type] of [
      ['PUT', `/v1/projects/${p.id}/files/slow.csv`, 'text/csv'],
      ['POST', `/v1/projects/${p.id}/records`, 'application/json'],
    ] as const) {
      const slow = await rawExchange(port, (socket) => {
        socket.write(`${method} ${route} HTTP/1.1\r\nHost: intake\r\nX-API-Key: ${key.key}\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n`);
        trickle(socket, '[');
      });
      expect(slow.text.startsWith('HTTP/1.1 408 '), slow.text.slice(0, 200)).toBe(true);
      expect(jsonBodyOf(slow.text).error.code).toBe('request_timeout');
      expect(slow.closedAfterMs).toBeLessThan(3 * BODY_WINDOW_MS + 2000);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expectNothingStored(t, p);
    await healthy();
  });

  it('lets a large upload through that keeps sending for longer than every timeout', async () => {
    const total = 6 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    chunk.write('a,b\n');
    const opened = Date.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `/v1/projects/${p.id}/files/large.csv`,
        headers: { 'X-API-Key': key.key, 'Content-Type': 'text/csv', 'Content-Length': String(total) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      // About 1.1 MB/s (96 chunks, one per 60 ms, ~5.8 s): slow enough to span several body
      // windows and the headers timeout with margin, since timers only ever fire late.
      const timer = setInterval(() => {
        req.write(chunk);
        sent += chunk.length;
        if (sent >= total) {
          clearInterval(timer);
          req.end();
        }
      }, 60);
    });
    expect(Date.now() - opened).toBeGreaterThan(HEADERS_TIMEOUT_MS + 2 * BODY_WINDOW_MS);
    expect(status).toBe(202);
    const objects = await t.storage.control.listJobs(p.id, { limit: 10 });
    expect(objects.items.map((j) => j.bytesTotal)).toEqual([total]);
  });

  it('answers 64 KB of headers with a clean 431 and closes the connection', async () => {
    for (const headers of [`X-Big: ${'a'.repeat(64 * 1024)}\r\n`, Array.from({ length: 4000 }, (_, i) => `X-H${i}: value\r\n`).join('')]) {
      const big = await rawExchange(port, (socket) => socket.write(`GET /healthz HTTP/1.1\r\nHost: intake\r\n${headers}\r\n`));
      expect(big.text.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
      expect(big.text).toMatch(/\r\nConnection: close\r\n/);
      expect(big.text).toMatch(/\r\nContent-Type: application\/json; charset=utf-8\r\n/);
      expect(jsonBodyOf(big.text).error.code).toBe('headers_too_large');
    }
    await healthy();
  });

  it('answers a request that is not HTTP with a clean 400', async () => {
    const garbage = await rawExchange(port, (socket) => socket.write('HELLO\u0000\r\n\r\n'));
    expect(garbage.text.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(jsonBodyOf(garbage.text).error.code).toBe('bad_request');
    await healthy();
  });

  it('logged each refusal without secrets', () => {
    const output = child.output();
    expect(output).toContain('"event":"client_error"');
    expect(output).toContain('"event":"slow_body"');
    expect(output).not.toContain(key.key.slice(-43));
    expect(output).not.toContain(ADMIN_TOKEN);
  });
});

describe('startup and IPv6', () => {
  it('refuses to start in aws mode with an admin token under 32 characters', async () => {
    const weak = 'weak-token-1234';
    const child = startServer({ INTAKE_STORAGE: 'aws', INTAKE_ADMIN_TOKEN: weak, PORT: '0' });
    expect(await child.exit).toBe(2);
    expect(child.output()).toContain('INTAKE_ADMIN_TOKEN: must be at least 32 characters when INTAKE_STORAGE=aws');
    expect(child.output()).not.toContain(weak);
  });

  it('lets an allowed IPv6 client in over a real IPv6 socket (::1)', async () => {
    const t = await createTestApp();
    const server = createHttpServer(t.app, t.config.http, t.logger);
    try {
      const listening = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(0, '::1', () => resolve(true));
      });
      if (!listening) {
        // No IPv6 loopback on this host: the X-Forwarded-For tests cover IPv6 addresses.
        console.warn('[security] ::1 is not available; real IPv6 socket not tested');
        return;
      }
      const url = `http://[::1]:${(server.address() as AddressInfo).port}`;
      const p = await createProject(t);
      const v6 = await createKey(t, p.id, { allowedIps: ['::1/128'] });
      const v4 = await createKey(t, p.id, { allowedIps: ['127.0.0.0/8'] });
      expect((await request(url).get(`/v1/projects/${p.id}/records`).set(v6.header)).status).toBe(200);
      const refused = await request(url).get(`/v1/projects/${p.id}/records`).set(v4.header);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('ip_not_allowed');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    }
  });
});
