// XML billion laughs and external entities through the file path, as a client would send
// them: uploaded over the API, then ingested by a poller. Files with a DTD are refused
// whole; entity references without one stay as written. Nothing expanded, fetched or read
// from disk ever reaches a record, a job, an error report or a log.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller } from '../../src/ingest/poller.js';
import {
  createKey,
  createProject,
  eventually,
  expectHealthy,
  LogCapture,
  storedObjects,
  type SecKey,
  type SecProject,
} from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const TERMINAL = new Set(['succeeded', 'partial', 'failed']);

function billionLaughs(): string {
  const levels = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?>\n<!DOCTYPE rows [\n${levels.join('\n')}\n]>\n<rows><row><a>&lol9;</a></row></rows>\n`;
}

describe('XML bombs and external entities through upload and poller', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  let poller: Poller;
  let secretFile: string;
  let dtdServer: http.Server;
  let dtdUrl: string;
  const dtdHits: string[] = [];
  const secret = `SECRET-CONTENT-${randomBytes(8).toString('hex')}`;
  const logs = new LogCapture();

  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_LOG_LEVEL: 'debug' }, logStream: logs.stream });
    p = await createProject(t);
    key = await createKey(t, p.id);
    secretFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'intake-xxe-')), 'secret.txt');
    await fs.writeFile(secretFile, secret);
    // An external DTD the files point at: if anything fetched it, the hit would show here.
    dtdServer = http.createServer((req, res) => {
      dtdHits.push(req.url ?? '');
      res.end(`<!ENTITY % all "<!ENTITY exfil SYSTEM 'file://${secretFile}'>"> %all;`);
    });
    await new Promise<void>((resolve) => dtdServer.listen(0, '127.0.0.1', resolve));
    dtdUrl = `http://127.0.0.1:${(dtdServer.address() as AddressInfo).port}/evil.dtd`;
    poller = new Poller(
      { ...t.storage, projects: t.services.projects, logger: t.logger, metrics: t.metrics },
      { intervalMs: 100, maxIdleIntervalMs: 200, concurrency: 2, leaseMs: 5000, settleMs: 0, checkpointIntervalMs: 2000, maxAttempts: 3, maxDecompressedBytes: t.config.limits.maxDecompressedBytes },
    );
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await new Promise((resolve) => dtdServer.close(resolve));
    await fs.rm(path.dirname(secretFile), { recursive: true, force: true });
    await t.close();
  });

  async function ingest(name: string, xml: string): Promise<Record<string, unknown>> {
    const up = await request(t.app).put(`/v1/projects/${p.id}/files/${name}`).set(key.header).set('Content-Type', 'application/xml').send(xml);
    expect(up.status, up.text).toBe(202);
    let job: Record<string, unknown> = {};
    await eventually(async () => {
      job = (await request(t.app).get(`/v1/projects/${p.id}/jobs/${up.body.jobId}`).set(key.header)).body;
      return TERMINAL.has(String(job.status));
    }, `job of ${name}`);
    return job;
  }

  async function allStoredText(): Promise<string> {
    const parts: string[] = [];
    const records = await request(t.app).get(`/v1/projects/${p.id}/records?limit=1000`).set(key.header);
    parts.push(records.text);
    const jobs = await request(t.app).get(`/v1/projects/${p.id}/jobs?limit=1000`).set(key.header);
    parts.push(jobs.text);
    for (const object of await storedObjects(t, p, 'reports/')) {
      const stream = await t.storage.objects.getStream(p.project.bucketName, object.key);
      for await (const chunk of stream) parts.push(String(chunk));
    }
    return parts.join('\n');
  }

  it('refuses a billion-laughs file whole, expanding nothing', async () => {
    const job = await ingest('laughs.xml', billionLaughs());
    expect(job).toMatchObject({ status: 'failed', recordsWritten: 0, failure: { code: 'xml_doctype_forbidden' } });
  });

  it('refuses a file with an external entity naming a local file, reading nothing', async () => {
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE rows [<!ENTITY xxe SYSTEM "file://${secretFile}">]>\n<rows><row><a>&xxe;</a></row></rows>\n`;
    const job = await ingest('xxe.xml', xml);
    expect(job).toMatchObject({ status: 'failed', recordsWritten: 0, failure: { code: 'xml_doctype_forbidden' } });
  });

  it('refuses a file with an external DTD and parameter entities, fetching nothing', async () => {
    const external = await ingest('external.xml', `<?xml version="1.0"?>\n<!DOCTYPE rows SYSTEM "${dtdUrl}">\n<rows><row><a>&exfil;</a></row></rows>\n`);
    expect(external).toMatchObject({ status: 'failed', failure: { code: 'xml_doctype_forbidden' } });
    const parameter = await ingest('parameter.xml', `<?xml version="1.0"?>\n<!DOCTYPE rows [<!ENTITY % remote SYSTEM "${dtdUrl}"> %remote;]>\n<rows><row><a>&exfil;</a></row></rows>\n`);
    expect(parameter).toMatchObject({ status: 'failed', failure: { code: 'xml_doctype_forbidden' } });
    expect(dtdHits).toEqual([]);
  });

  it('keeps entity references without a DTD, and XInclude, as inert text', async () => {
    const xml =
      '<?xml version="1.0"?>\n<rows xmlns:xi="http://www.w3.org/2001/XInclude">' +
      `<row><a>&lol9;</a><b>&xxe;</b><c>&amp;&lt;ok&gt;</c></row>` +
      `<row><xi:include href="file://${secretFile}" parse="text"/><d>plain</d></row></rows>\n`;
    const job = await ingest('inert.xml', xml);
    expect(job.status).not.toBe('failed');
    const records = (await request(t.app).get(`/v1/projects/${p.id}/records?limit=1000`).set(key.header)).body.items as { data: Record<string, unknown> }[];
    const texts = JSON.stringify(records.map((r) => r.data));
    expect(texts).toContain('&lol9;');
    expect(texts).toContain('&<ok>');
  });

  it('stored no expansion and no secret anywhere, and logged none', async () => {
    const stored = await allStoredText();
    expect(stored).not.toContain('lollollol');
    expect(stored).not.toContain(secret);
    expect(logs.text).not.toContain(secret);
    expect(logs.text).not.toContain('lollollol');
    expect(dtdHits).toEqual([]);
    await expectHealthy(t.app);
  });
});
