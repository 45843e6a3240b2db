// Hostile multipart uploads and file names: field, part and header counts are bounded,
// refused uploads leave neither object nor job behind, pollution keys in field names
// stay inert, and client file names never reach an object key unsanitised.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createKey,
  createProject,
  eventually,
  expectError,
  expectHealthy,
  expectNothingStored,
  storedObjects,
  type SecKey,
  type SecProject,
} from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const BOUNDARY = 'security-test-boundary-7f3a';
const TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

interface Part {
  name: string;
  filename?: string;
  content: string;
}

function part(p: Part): string {
  const disposition = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
  const type = p.filename === undefined ? '' : 'Content-Type: text/csv\r\n';
  return `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n${p.content}\r\n`;
}

const body = (parts: Part[]) => Buffer.from(`${parts.map(part).join('')}--${BOUNDARY}--\r\n`);
const csv = (name = 'data.csv'): Part => ({ name: 'file', filename: name, content: 'a,b\n1,2\n' });
const fields = (n: number): Part[] => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, content: 'v' }));

describe('hostile multipart uploads', () => {
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
    await expectHealthy(t.app);
  });

  const upload = (bytes: Buffer) =>
    request(t.app).post(`/v1/projects/${p.id}/files`).set(key.header).set('Content-Type', TYPE).serialize((b: unknown) => b as string).send(bytes);

  it('refuses 10,000 fields before the file, and 10,000 fields after it, storing nothing', async () => {
    expectError(await upload(body([...fields(10_000), csv()])), 413, 'too_many_fields');
    expectError(await upload(body([csv(), ...fields(10_000)])), 413, 'too_many_fields');
    await sleep(300);
    await expectNothingStored(t, p);
  });

  it('refuses 10,000 file parts, storing nothing', async () => {
    expectError(await upload(body(Array.from({ length: 10_000 }, (_, i) => csv(`f${i}.csv`)))), 400, 'too_many_files');
    await sleep(300);
    await expectNothingStored(t, p);
  });

  it('refuses a part with 10,000 header lines, and a field of 1 MB', async () => {
    const headers = Array.from({ length: 10_000 }, (_, i) => `X-Part-Header-${i}: v`).join('\r\n');
    const bomb = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="h.csv"\r\n${headers}\r\n\r\na,b\r\n--${BOUNDARY}--\r\n`);
    expectError(await upload(bomb), 400, 'invalid_multipart');
    expectError(await upload(body([{ name: 'note', content: 'x'.repeat(1024 * 1024) }, csv()])), 413, 'field_too_large');
    await expectNothingStored(t, p);
  });

  it('removes a finished first file when a later part gets the upload refused', async () => {
    const server = http.createServer(t.app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const req = http.request({
        port: (server.address() as AddressInfo).port,
        host: '127.0.0.1',
        method: 'POST',
        path: `/v1/projects/${p.id}/files`,
        headers: { ...key.header, 'Content-Type': TYPE },
      });
      const status = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
      // The delimiter after the first file ends it, so it is stored before the second part's headers arrive.
      req.write(`${part(csv('first.csv'))}--${BOUNDARY}\r\n`);
      await eventually(async () => (await storedObjects(t, p)).length === 1, 'the first file to be stored');
      req.end(`${part(csv('second.csv')).slice(`--${BOUNDARY}\r\n`.length)}--${BOUNDARY}--\r\n`);
      expect(await status).toBe(400);
      await sleep(500);
      await expectNothingStored(t, p);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps pollution keys in field names inert', async () => {
    const res = await upload(
      body([
        { name: '__proto__[polluted]', content: 'yes' },
        { name: 'constructor[prototype][polluted]', content: 'yes' },
        { name: '__proto__', content: 'yes' },
        csv('pollution.csv'),
      ]),
    );
    expect(res.status, res.text).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('hostile names', () => {
  let t: TestApp;
  let p: SecProject;
  let key: SecKey;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProject(t);
    key = await createKey(t, p.id);
  });
  afterAll(async () => t.close());

  const badNames = ['bad\u0000name', 'esc \u001b[31mred\u001b[0m', 'line\u2028sep', 'del\u007f', 'c1\u0085', '\ud800 lone', '   ', 'x'.repeat(201), 'x'.repeat(10_000)];

  it('refuses control characters, lone surrogates and very long strings in project and key names', async () => {
    for (const name of badNames) {
      const id = `name-${Math.random().toString(36).slice(2, 10)}`;
      expectError(await request(t.app).post('/v1/projects').set(t.admin).send({ id, name }), 400, 'validation_failed');
      expect(await t.storage.control.getProject(id)).toBeNull();
      expectError(await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name }), 400, 'validation_failed');
    }
    expect((await t.storage.control.listKeys(p.id)).map((k) => k.id)).toEqual([key.id]);
    expectError(await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'x', name: 'x'.repeat(70_000) }), 413, 'payload_too_large');
    expect((await request(t.app).post('/v1/projects').set(t.admin).send({ id: `name-ok-${Date.now() % 100000}`, name: 'ü'.repeat(200) })).status).toBe(201);
    await expectHealthy(t.app);
  });

  it('refuses control characters and long strings in project ids', async () => {
    for (const id of ['bad\u0000id', 'bad\nid', 'a'.repeat(41), 'a'.repeat(10_000), '../etc']) {
      expectError(await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: 'x' }), 400, 'invalid_project_id');
    }
    const longPath = await request(t.app).get(`/v1/projects/${'a'.repeat(10_000)}`).set(t.admin);
    expectError(longPath, 404, 'project_not_found');
    expect(longPath.text.length).toBeLessThan(500);
    expectError(await request(t.app).get('/v1/projects/%E0%A4%A/records').set(key.header), 400, 'invalid_path');
    expectError(await request(t.app).put(`/v1/projects/${p.id}/files/%ED%A0%80.csv`).set(key.header).send('a'), 400, 'invalid_path');
    await expectHealthy(t.app);
  });

  it('sanitises hostile file names before they reach an object key', async () => {
    const names = [
      '%00evil.csv',
      '..%2F..%2Fetc%2Fpasswd',
      '%1B%5B31mred%1B%5B0m.csv',
      '%2Fabsolute.csv',
      '..',
      `${'a'.repeat(5000)}.csv`,
      `${'%F0%9F%98%80'.repeat(150)}.csv`,
    ];
    for (const name of names) {
      const res = await request(t.app).put(`/v1/projects/${p.id}/files/${name}`).set(key.header).set('Content-Type', 'text/csv').send('a,b\n1,2\n');
      expect(res.status, `${name.slice(0, 40)}: ${res.text}`).toBe(202);
    }
    const form = (filename: string) =>
      request(t.app)
        .post(`/v1/projects/${p.id}/files`)
        .set(key.header)
        .set('Content-Type', TYPE)
        .serialize((b: unknown) => b as string)
        .send(body([{ name: 'file', filename, content: 'a,b\n1,2\n' }]));
    expect((await form('../../..\\windows\\x.csv')).status).toBe(202);
    // A control character in a part header is malformed multipart: refused outright.
    expectError(await form('x\u0001y.csv'), 400, 'invalid_multipart');

    const objects = await storedObjects(t, p);
    expect(objects).toHaveLength(names.length + 1);
    for (const { key: objectKey } of objects) {
      const [prefix, fileId, fileName, ...rest] = objectKey.split('/');
      expect(prefix).toBe('incoming');
      expect(fileId).toMatch(/^[0-9A-Z]{26}$/);
      expect(rest).toEqual([]);
      // eslint-disable-next-line no-control-regex
      expect(fileName).not.toMatch(/[\u0000-\u001f\u007f-\u009f\\]|^\.|\.\.|[\ud800-\udbff](?![\udc00-\udfff])/);
      expect(fileName!.length).toBeLessThanOrEqual(200);
    }
    const jobs = (await t.storage.control.listJobs(p.id, { limit: 100 })).items;
    expect(jobs).toHaveLength(names.length + 1);
    for (const job of jobs) expect(job.fileName.length).toBeLessThanOrEqual(1024);
    await expectHealthy(t.app);
  });
});
