// The console in a real browser (Debian's Chromium driven by playwright-core) against one
// freshly spawned server in embedded mode: a whole admin journey, zero-trust sign-in with a
// JWKS the test serves, and the bad inputs of the console issue (wrong token, expired
// session, cross-origin POST without the CSRF token, XSS payloads in record data, a
// cancelled upload, an unknown project). Screenshots go to .test-results/browser/.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService, TOKEN_ADMIN } from '../../src/domain/session.service.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import {
  buildConsole,
  expectAccessible,
  filesUnder,
  launchChromium,
  pageProblems,
  servePage,
  snap,
  startJwks,
  watchedPage,
  writeCsv,
  type BrowserWindow,
  type Jwks,
} from './browser-kit.js';

const TOKEN = 'browser-admin-token-0123456789abcdefghijklmnopqrstuvwxyz';
const AUDIENCE = 'intake-console-test';
const ADMIN_EMAIL = 'ops@example.com';
const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_LINK = 'javascript:alert(2)';

let dir: string;
let server: ServerProcess;
let browser: Browser;
let jwks: Jwks;
let admin: BrowserContext;
let page: Page;

async function apiCall(method: string, url: string, headers: Record<string, string> = {}, body?: unknown) {
  const response = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function signIn(target: Page, token = TOKEN): Promise<void> {
  await target.goto(`${server.baseUrl}/console`);
  await target.getByLabel('Admin token').fill(token);
  await target.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in unless the page's session is still valid (tests can also run one at a time). */
async function signedIn(target: Page): Promise<void> {
  await target.goto(`${server.baseUrl}/console`);
  await target.locator('#token, #overview-title').first().waitFor();
  if ((await target.locator('#token').count()) > 0) await signIn(target);
  await target.getByRole('heading', { name: 'Overview' }).waitFor();
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-browser-'));
  [, jwks, browser] = await Promise.all([buildConsole(), startJwks(), launchChromium()]);
  server = await spawnServer({
    env: {
      INTAKE_DATA_DIR: path.join(dir, 'data'),
      INTAKE_ADMIN_TOKEN: TOKEN,
      INTAKE_POLL_INTERVAL_MS: '200',
      INTAKE_ACCESS_TEAM_DOMAIN: jwks.url,
      INTAKE_ACCESS_AUDIENCE: AUDIENCE,
      INTAKE_ADMIN_EMAILS: ADMIN_EMAIL,
    },
  });
  admin = await browser.newContext();
  await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
  page = await watchedPage(admin);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await jwks?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('the console', () => {
  it('refuses a wrong admin token and sets no cookie', async () => {
    const loaded: string[] = [];
    page.on('response', (response) => {
      if (response.request().resourceType() === 'script') loaded.push(response.url());
    });
    await signIn(page, 'not-the-admin-token-0123456789');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token|unauthenticated/i);
    expect(await admin.cookies()).toEqual([]);
    await expectAccessible(page, '01-sign-in');

    // First load budget: the JavaScript of /console, gzipped as a CDN or proxy would send it.
    let gzipped = 0;
    for (const url of loaded) gzipped += gzipSync(Buffer.from(await (await fetch(url)).arrayBuffer())).length;
    console.log(`[browser] first load of /console: ${loaded.length} script(s), ${(gzipped / 1024).toFixed(1)} KiB gzipped JS`);
    expect(gzipped).toBeLessThanOrEqual(250 * 1024);
  });

  it('runs the admin journey: project, key, 50 MB upload, job, records, revocation', async () => {
    await signIn(page);
    await expect.poll(() => page.getByRole('heading', { name: 'Overview' }).count()).toBe(1);
    const cookie = (await admin.cookies()).find((c) => c.name === 'intake_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    await expectAccessible(page, '02-overview');

    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByLabel('Id').fill('journey');
    await page.getByLabel('Name').fill('Journey Co');
    await expectAccessible(page, '03-projects');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'Project journey' }).waitFor();
    await expectAccessible(page, '04-project');
    expect((await apiCall('GET', '/v1/projects/journey')).status).toBe(200);

    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('Name').fill('uploader');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('.key-secret').textContent())!;
    expect(secret).toMatch(/^ik_/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserWindow).navigator.clipboard.readText())).toBe(secret);
    await expectAccessible(page, '05-keys');
    const withKey = await fetch(`${server.baseUrl}/v1/projects/journey/records`, { headers: { 'X-API-Key': secret } });
    expect(withKey.status).toBe(200);

    // 50 MB through the file input; the upload is throttled so the bar's movement is seen.
    const csv = path.join(dir, 'customers.csv');
    const rows = await writeCsv(csv, 50 * 1024 * 1024);
    const size = (await fs.stat(csv)).size;
    await page.getByRole('link', { name: 'Upload' }).click();
    const cdp = await admin.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 25 * 1024 * 1024 });
    await page.evaluate(() => {
      const w = globalThis as unknown as BrowserWindow;
      w.samples = [];
      const tick = () => {
        const bar = w.document.querySelector('#upload-bar');
        if (bar) w.samples.push(bar.value);
        if (w.samples.length < 100_000) w.requestAnimationFrame(tick);
      };
      tick();
    });
    await page.setInputFiles('#upload-file', csv);
    await page.locator('.job-progress .status-succeeded').waitFor({ timeout: 150_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const samples = await page.evaluate(() => (globalThis as unknown as BrowserWindow).samples);
    const moving = new Set(samples.filter((v) => v > 0 && v < size));
    expect(moving.size, 'distinct partial progress values').toBeGreaterThanOrEqual(3);
    expect(await page.locator('.job-progress').textContent()).toContain(`${rows.toLocaleString('en-US')} rows read`);
    await expectAccessible(page, '06-upload');

    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('link', { name: 'customers.csv' }).waitFor();
    await expectAccessible(page, '07-jobs');

    // A records page of 100 rows: from the API's answer to the table committed.
    await page.getByRole('link', { name: 'Records' }).click();
    await expect.poll(() => page.locator('[data-testid=records-table] tbody tr').count()).toBe(100);
    const renderMs = await page.evaluate(() => {
      const { performance } = globalThis as unknown as BrowserWindow;
      const fetched = performance.getEntriesByType('resource').filter((e) => e.name.includes('/records?limit=100')).at(-1)!;
      const rendered = performance.getEntriesByName('records-rendered').at(-1)!;
      return rendered.startTime - fetched.responseEnd;
    });
    console.log(`[browser] records page of 100 rows rendered ${renderMs.toFixed(1)} ms after the API answered`);
    await expectAccessible(page, '08-records');
    await page.locator('[data-testid=records-table] tbody a').first().click();
    await page.getByRole('heading', { name: /^Record / }).waitFor();
    expect(await page.locator('pre.json').first().textContent()).toContain('@example.com');
    await expectAccessible(page, '09-record');

    await page.getByRole('link', { name: 'Model & quarantine' }).click();
    await page.getByRole('heading', { name: /Model \(version/ }).waitFor();
    await expectAccessible(page, '10-model');
    await page.getByRole('link', { name: 'Exports' }).click();
    await page.getByRole('heading', { name: 'Export jobs' }).waitFor();
    await expectAccessible(page, '11-exports');

    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('button', { name: 'Revoke key uploader' }).click();
    await page.locator('.status-revoked').first().waitFor();
    await expect
      .poll(async () => (await fetch(`${server.baseUrl}/v1/projects/journey/records`, { headers: { 'X-API-Key': secret } })).status, { timeout: 10_000 })
      .toBe(401);

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('link', { name: 'Journey Co' }).waitFor();
    await snap(page, '12-overview-after');
    expect(pageProblems).toEqual([]);
  });

  it('edits the model with messages by the field, previews it on a file, looks a customer up, and exports', async () => {
    expect((await apiCall('POST', '/v1/projects', {}, { id: 'model-check', name: 'Model check' })).status).toBe(201);
    await signedIn(page);
    await page.goto(`${server.baseUrl}/console/projects/model-check/model`);
    await page.getByLabel('Indexes').fill('country');
    await page.getByRole('button', { name: 'Save model' }).click();
    const indexField = page.locator('.field', { has: page.getByLabel('Indexes') });
    await expect.poll(() => indexField.locator('.field-error').textContent()).toMatch(/customer key/);
    await page.getByLabel('Customer key fields').fill('email');
    await page.getByRole('button', { name: 'Save model' }).click();
    await page.getByText('Saved as version 1.').waitFor();

    const upload = await fetch(`${server.baseUrl}/v1/projects/model-check/files/people.csv`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/csv' },
      body: 'email,country\nAnn@Example.com,GB\nbo@example.com,FR\n',
    });
    const { jobId } = (await upload.json()) as { jobId: string };
    await expect
      .poll(async () => (await apiCall('GET', `/v1/projects/model-check/jobs/${jobId}`)).json.status, { timeout: 30_000 })
      .toBe('succeeded');
    await page.reload();
    const fileId = await page.locator('#preview-file option', { hasText: 'people.csv' }).getAttribute('value');
    await page.selectOption('#preview-file', fileId!);
    await page.getByRole('button', { name: 'Preview first rows' }).click();
    await expect.poll(() => page.locator('form pre.json').textContent()).toContain('ann@example.com');
    await expectAccessible(page, '15-model-edited');

    await page.getByRole('link', { name: 'Records' }).click();
    await page.getByRole('textbox', { name: 'email' }).fill('  ANN@example.com ');
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => page.locator('.lookups pre.json').textContent()).toContain('provenance');

    await page.getByRole('link', { name: 'Exports' }).click();
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('link', { name: /^part-/ }).first().waitFor({ timeout: 60_000 });
    await expectAccessible(page, '16-exports');
    expect(pageProblems).toEqual([]);
  });
});

describe('the console under attack and in trouble', () => {
  it('shows record data and names as text: no markup, no script, no javascript: link', async () => {
    expect((await apiCall('POST', '/v1/projects', {}, { id: 'xss-check', name: XSS_IMG })).status).toBe(201);
    const pushed = await apiCall('POST', '/v1/projects/xss-check/records', {}, [
      { name: XSS_IMG, website: XSS_LINK, [XSS_IMG]: '<script>alert(3)</script>' },
    ]);
    expect(pushed.json.accepted).toBe(1);
    await page.goto(`${server.baseUrl}/console/projects/xss-check/records`);
    await page.locator('[data-testid=records-table] tbody tr').first().waitFor();
    await page.getByRole('checkbox', { name: XSS_IMG }).check();
    expect(await page.getByRole('cell', { name: XSS_IMG, exact: true }).count()).toBe(1);
    expect(await page.getByRole('cell', { name: XSS_LINK, exact: true }).count()).toBe(1);
    await page.locator('[data-testid=records-table] tbody a').first().click();
    await page.getByRole('heading', { name: /^Record / }).waitFor();
    expect(await page.locator('pre.json').first().textContent()).toContain(XSS_IMG);
    await page.goto(`${server.baseUrl}/console/`);
    await page.getByRole('link', { name: XSS_IMG }).waitFor();
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.locator('a[href^="javascript"]').count()).toBe(0);
    expect(pageProblems).toEqual([]);
  });

  it('refuses a state-changing request from another origin that lacks the CSRF token (403), and writes nothing', async () => {
    // Same site (127.0.0.1), other origin (port): the SameSite=Strict cookie rides along,
    // so only the CSRF token stands between this form and a new project.
    const form = `<form method="POST" enctype="text/plain" action="${server.baseUrl}/v1/projects">
      <input name='{"id":"csrf-victim","name":"x","pad":"' value='"}'></form><script>document.forms[0].submit()</script>`;
    const attacker = await servePage(form);
    try {
      const attack = await watchedPage(admin);
      const answer = attack.waitForResponse((r) => r.url() === `${server.baseUrl}/v1/projects`);
      await attack.goto(`http://127.0.0.1:${attacker.port}/`);
      const response = await answer;
      expect(response.status()).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
      await attack.close();
    } finally {
      await attacker.close();
    }
    expect((await apiCall('GET', '/v1/projects/csrf-victim')).status).toBe(404);
  });

  it('goes back to sign-in, showing no data, when the session has expired', async () => {
    const expired = new SessionService(TOKEN, () => Date.now() - 9 * 3600_000).issue(TOKEN_ADMIN).cookie;
    await page.goto(`${server.baseUrl}/console/projects/journey/records`);
    await page.locator('[data-testid=records-table] tbody tr').first().waitFor();
    await admin.addCookies([{ name: 'intake_session', value: expired, url: server.baseUrl, httpOnly: true, sameSite: 'Strict' }]);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByText(/session has ended/).count()).toBe(1);
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.content()).not.toContain('@example.com');
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.locator('table').count()).toBe(0);
  });

  it('leaves no object and no job behind when an upload is cancelled halfway', async () => {
    await signIn(page);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const objects = path.join(dir, 'data', 'objects');
    const before = (await filesUnder(objects)).sort();
    const jobsBefore = ((await apiCall('GET', '/v1/projects/journey/jobs?limit=100')).json.items as unknown[]).length;
    const csv = path.join(dir, 'cancelled.csv');
    await writeCsv(csv, 16 * 1024 * 1024);
    await page.goto(`${server.baseUrl}/console/projects/journey/upload`);
    const cdp = await admin.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
    await page.setInputFiles('#upload-file', csv);
    await page.waitForFunction(() => {
      const bar = (globalThis as unknown as BrowserWindow).document.querySelector('#upload-bar');
      return bar !== null && bar.value > bar.max * 0.3;
    });
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await page.getByText('The upload was cancelled.').waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await expect.poll(async () => (await filesUnder(objects)).sort(), { timeout: 15_000 }).toEqual(before);
    const jobsAfter = (await apiCall('GET', '/v1/projects/journey/jobs?limit=100')).json.items as Array<{ fileName: string }>;
    expect(jobsAfter.length).toBe(jobsBefore);
    expect(jobsAfter.some((job) => job.fileName === 'cancelled.csv')).toBe(false);
  });

  it('shows a clear not-found view for a project that does not exist', async () => {
    for (const suffix of ['', '/records', '/keys']) {
      await page.goto(`${server.baseUrl}/console/projects/no-such-project${suffix}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('There is no project with the id no-such-project.').count()).toBe(1);
    }
    await expectAccessible(page, '13-not-found');
  });

  it('signs in with a verified Cloudflare Access assertion, and refuses unsigned, forged and unknown-key ones', async () => {
    const good = await jwks.sign({ email: ADMIN_EMAIL, aud: [AUDIENCE], sub: 'user-1' });
    const [header, payload] = good.split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'test-key-1' })).toString('base64url')}.${payload}.`;
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const unknownKid = await jwks.sign({ email: ADMIN_EMAIL, aud: [AUDIENCE] }, { kid: 'some-other-key' });
    const cases: Array<[string, string, boolean]> = [
      ['valid', good, true],
      ['alg none', unsigned, false],
      ['wrong signature', forged, false],
      ['unknown key id', unknownKid, false],
    ];
    for (const [name, assertion, accepted] of cases) {
      const context = await browser.newContext({ extraHTTPHeaders: { 'Cf-Access-Jwt-Assertion': assertion } });
      const zt = await watchedPage(context);
      await zt.goto(`${server.baseUrl}/console`);
      if (accepted) {
        await zt.getByRole('heading', { name: 'Overview' }).waitFor();
        expect(await zt.locator('.who').textContent(), name).toContain('cloudflare-access');
        await snap(zt, '14-zero-trust');
      } else {
        await zt.getByLabel('Admin token').waitFor();
        expect(await zt.locator('table').count(), name).toBe(0);
      }
      await context.close();
    }
  });
});
