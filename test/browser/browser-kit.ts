// Helpers of the console's browser tests: Debian's Chromium driven by playwright-core (no
// browser download), a CSV written to disk as a stream, a JWKS endpoint with a key the test
// generates, and a tiny page server standing in for another origin.
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { REPO_ROOT } from '../support/server-process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, '.test-results', 'browser');

/** Flags that keep Chromium from reaching out to Google's hosts on a closed network. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The built console, rebuilt only when its sources changed (as npm start does). */
export async function buildConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-console.mjs'), '--if-changed'], { cwd: REPO_ROOT });
}

/** A CSV of about `bytes` bytes, streamed to disk with backpressure; returns its row count. */
export async function writeCsv(file: string, bytes: number): Promise<number> {
  const out = createWriteStream(file);
  const header = 'email,name,city,note\n';
  out.write(header);
  let written = header.length;
  let rows = 0;
  while (written < bytes) {
    const line = `c${rows}@example.com,Customer ${rows},Leeds,${'x'.repeat(440)}\n`;
    rows++;
    written += line.length;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

export interface Jwks {
  url: string;
  sign(claims: Record<string, unknown>, options?: { kid?: string; expiresIn?: string }): Promise<string>;
  close(): Promise<void>;
}

/** Serves `<url>/cdn-cgi/access/certs` as Cloudflare Access publishes its keys. */
export async function startJwks(): Promise<Jwks> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const server = http.createServer((req, res) => {
    if (req.url === '/cdn-cgi/access/certs') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sign: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'test-key-1' })
        .setIssuer(url)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(privateKey as CryptoKey),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Serves one HTML page at `/` on 127.0.0.1 (another origin than the service's port). */
export async function servePage(html: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(html);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Screenshot of the page as a test artifact (gitignored). */
export async function snap(page: Page, name: string): Promise<void> {
  await fs.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Files under `dir`, recursively (the embedded object store's tree). */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

/**
 * What the callbacks of page.evaluate see: they run in the browser, while this test code is
 * compiled with Node's types and no DOM library.
 */
export interface BrowserWindow {
  document: { querySelector(selector: string): { value: number; max: number } | null };
  navigator: { clipboard: { readText(): Promise<string> } };
  performance: { getEntriesByType(type: string): Array<{ name: string; responseEnd: number }>; getEntriesByName(name: string): Array<{ startTime: number }> };
  requestAnimationFrame(callback: () => void): void;
  samples: number[];
  axe: typeof axe;
}

/** Dialogs, script errors and CSP violations seen by any watched page. */
export const pageProblems: string[] = [];

/** A page that records every dialog (alert) and script error: XSS or CSP trouble shows up here. */
export async function watchedPage(context: BrowserContext): Promise<Page> {
  const opened = await context.newPage();
  opened.on('dialog', (dialog) => {
    pageProblems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  opened.on('pageerror', (error) => pageProblems.push(`pageerror: ${error.message}`));
  opened.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageProblems.push(`csp: ${message.text()}`);
  });
  return opened;
}

/** axe-core, evaluated through the DevTools protocol (the page's CSP rightly blocks inline scripts). */
export async function expectAccessible(target: Page, name: string): Promise<void> {
  await target.evaluate(axe.source);
  const violations = await target.evaluate(async () => {
    const w = globalThis as unknown as BrowserWindow;
    const result = await w.axe.run(w.document as unknown as Parameters<typeof axe.run>[0], { resultTypes: ['violations'] });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
  });
  expect(violations, `axe on ${name}`).toEqual([]);
  await snap(target, name);
}

