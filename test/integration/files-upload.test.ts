// Uploads through the API: raw PUT (with a length and chunked), multipart POST, size
// limits, clients that go away, hostile file names and auth. No poller runs here, so an
// accepted file stays under incoming/ with its queued job.
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { MAX_FILE_NAME_LENGTH } from '../../src/storage/object-keys.js';
import { S3_EMULATOR_CLIENT_OPTIONS, testAwsEnv } from '../support/endpoints.js';
import {
  appOver,
  bucketObjects,
  createProjectWithKey,
  generatedStream,
  instrument,
  listen,
  listJobs,
  multipartBody,
  readObject,
  streamRequest,
  type TestProject,
} from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const csv = (rows: number) => ['id,name', ...Array.from({ length: rows }, (_, i) => `${i + 1},name ${i + 1}`)].join('\n') + '\n';

async function expectNothingStored(t: TestApp, p: TestProject): Promise<void> {
  expect((await bucketObjects(t, p)).map((o) => o.key)).toEqual([]);
  expect(await listJobs(t, p)).toEqual([]);
}

async function expectIncomingFile(t: TestApp, p: TestProject, accepted: { fileId: string; jobId: string; bytes: number }, name: string, body: Buffer) {
  expect(accepted.fileId).toMatch(ULID);
  expect(accepted.bytes).toBe(body.length);
  const objects = await bucketObjects(t, p, `incoming/${accepted.fileId}/`);
  expect(objects.map((o) => o.key)).toEqual([`incoming/${accepted.fileId}/${name}`]);
  const head = await t.storage.objects.head(p.project.bucketName, objects[0]!.key);
  expect(head?.size).toBe(body.length);
  expect(decodeURIComponent(head?.metadata?.['original-name'] ?? '')).toBe(name);
  expect((await readObject(t, p, objects[0]!.key)).equals(body)).toBe(true);
  const job = await request(t.app).get(`/v1/projects/${p.id}/jobs/${accepted.jobId}`).set(p.auth);
  expect(job.status).toBe(200);
  expect(job.body).toMatchObject({
    id: accepted.jobId,
    fileId: accepted.fileId,
    fileName: name,
    objectKey: `incoming/${accepted.fileId}/${name}`,
    status: 'queued',
    bytesTotal: body.length,
    bytesRead: 0,
    rowsRead: 0,
    recordsWritten: 0,
  });
}

describe('file uploads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('PUT with a Content-Length answers 202 and stores the file under incoming/<fileId>/<name>', async () => {
    const p = await createProjectWithKey(t);
    const body = Buffer.from(csv(3));
    const res = await request(t.app).put(`/v1/projects/${p.id}/files/customers.csv`).set(p.auth).set('Content-Type', 'text/csv').send(body);
    expect(res.status).toBe(202);
    expect(Object.keys(res.body).sort()).toEqual(expect.arrayContaining(['bytes', 'fileId', 'jobId']));
    expect(res.headers.location).toBe(`/v1/projects/${p.id}/jobs/${res.body.jobId}`);
    await expectIncomingFile(t, p, res.body, 'customers.csv', body);
    // The checksum computed while streaming is the body's, and the job keeps it.
    const sha256 = createHash('sha256').update(body).digest('hex');
    expect(res.body.sha256).toBe(sha256);
    const job = await request(t.app).get(`/v1/projects/${p.id}/jobs/${String(res.body.jobId)}`).set(p.auth);
    expect(job.body.sha256).toBe(sha256);
    const head = await t.storage.objects.head(p.project.bucketName, `incoming/${res.body.fileId}/customers.csv`);
    expect(head?.contentType).toMatch(/^text\/csv/);
  });

  it('PUT chunked (no Content-Length, streamed through a socket) stores every byte', async () => {
    const p = await createProjectWithKey(t);
    const server = await listen(t.app);
    try {
      // 20 MiB: more than two multipart parts of the S3 upload, never held whole by the test.
      const total = 20 * 1024 * 1024;
      const fill = (offset: number, size: number) => Buffer.alloc(size, 0x61 + ((offset / 65536) % 26));
      const res = await streamRequest(server.port, {
        method: 'PUT',
        path: `/v1/projects/${p.id}/files/big.txt`,
        headers: { ...p.auth, 'Content-Type': 'text/plain' },
        body: generatedStream(total, fill),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.bytes).toBe(total);
      const key = `incoming/${String(res.body.fileId)}/big.txt`;
      const head = await t.storage.objects.head(p.project.bucketName, key);
      expect(head?.size).toBe(total);
      // Compare the stored bytes to the generator chunk by chunk.
      const stored = await t.storage.objects.getStream(p.project.bucketName, key);
      let offset = 0;
      let mismatch = -1;
      for await (const chunk of stored) {
        const buf = Buffer.from(chunk as Uint8Array);
        for (let i = 0; i < buf.length && mismatch === -1; i += 4096) {
          if (buf[i] !== 0x61 + (Math.floor((offset + i) / 65536) % 26)) mismatch = offset + i;
        }
        offset += buf.length;
      }
      expect(mismatch).toBe(-1);
      expect(offset).toBe(total);
      const jobs = await listJobs(t, p);
      expect(jobs.map((j) => j.id)).toEqual([res.body.jobId]);
    } finally {
      await server.close();
    }
  });

  it('multipart POST with field "file" answers 202 and stores the part', async () => {
    const p = await createProjectWithKey(t);
    const data = Buffer.from(csv(2));
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/files`)
      .set(p.auth)
      .field('comment', 'ignored text field')
      .attach('file', data, { filename: 'export.csv', contentType: 'text/csv' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await expectIncomingFile(t, p, res.body, 'export.csv', data);
  });

  it.each([
    ['dot segments', '..%2F..%2Fetc%2Fpasswd', '../../etc/passwd'],
    ['plain dot-dot', '..', '..'],
    ['slashes', 'a%2Fb%2Fc.csv', 'a/b/c.csv'],
    ['backslashes', '..%5C..%5Cwin.csv', '..\\..\\win.csv'],
    ['NUL', 'evil%00.csv', 'evil\u0000.csv'],
    ['control characters', 'line%0Abreak%1B%5B31m%7F.csv', 'line\nbreak\u001b[31m\u007f.csv'],
    ['unicode', encodeURIComponent('Ünïcødé 名前.csv'), 'Ünïcødé 名前.csv'],
    ['2,000 characters', `${'n'.repeat(1996)}.csv`, `${'n'.repeat(1996)}.csv`],
  ])('a file name with %s becomes a safe key and is kept as metadata', async (_what, urlName, original) => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app).put(`/v1/projects/${p.id}/files/${urlName}`).set(p.auth).set('Content-Type', 'text/csv').send('a,b\n1,2\n');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const objects = await bucketObjects(t, p);
    expect(objects).toHaveLength(1);
    const key = objects[0]!.key;
    const prefix = `incoming/${String(res.body.fileId)}/`;
    expect(key.startsWith(prefix)).toBe(true);
    const stored = key.slice(prefix.length);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThanOrEqual(MAX_FILE_NAME_LENGTH);
    expect(stored).not.toMatch(/[/\\]/);
    expect(stored).not.toContain('..');
    // eslint-disable-next-line no-control-regex
    expect(stored).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(key.split('/')).toHaveLength(3);
    if (original.endsWith('.csv')) expect(stored.endsWith('.csv')).toBe(true);
    const head = await t.storage.objects.head(p.project.bucketName, key);
    const metadataName = decodeURIComponent(head?.metadata?.['original-name'] ?? '');
    // The original name is kept (bounded to 1,024 characters).
    expect(metadataName).toBe(original.slice(0, 1024));
    const job = await request(t.app).get(`/v1/projects/${p.id}/jobs/${String(res.body.jobId)}`).set(p.auth);
    expect(job.body.fileName).toBe(original.slice(0, 1024));
  });

  it.each([
    ['an astral character cut at 1,024', `${'a'.repeat(1023)}😀${'b'.repeat(50)}.csv`],
    ['2,000 non-ASCII characters', `${'é'.repeat(2000)}.csv`],
    ['2,000 emoji', `${'😀'.repeat(1000)}.csv`],
  ])('a file name with %s is accepted; its metadata stays within S3 limits', async (_what, original) => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app)
      .put(`/v1/projects/${p.id}/files/${encodeURIComponent(original)}`)
      .set(p.auth)
      .set('Content-Type', 'text/csv')
      .send('a,b\n1,2\n');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const [object] = await bucketObjects(t, p);
    expect(object!.key.endsWith('.csv')).toBe(true);
    const head = await t.storage.objects.head(p.project.bucketName, object!.key);
    const stored = head?.metadata?.['original-name'] ?? '';
    // S3 allows 2 KB of user-defined metadata per object, names and values together.
    expect(Buffer.byteLength(stored) + 'original-name'.length).toBeLessThanOrEqual(2048);
    const decoded = decodeURIComponent(stored);
    expect(decoded.length).toBeGreaterThan(0);
    expect(original.startsWith(decoded)).toBe(true);
    const job = await request(t.app).get(`/v1/projects/${p.id}/jobs/${String(res.body.jobId)}`).set(p.auth);
    expect(original.startsWith(job.body.fileName as string)).toBe(true);
  });

  it('a multipart file name with path segments is reduced to a safe key', async () => {
    const p = await createProjectWithKey(t);
    const { body, contentType } = multipartBody([{ name: 'file', filename: '../../etc/passwd.csv', contentType: 'text/csv', data: 'a\n1\n' }]);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).set('Content-Type', contentType).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const [object] = await bucketObjects(t, p);
    expect(object!.key.startsWith(`incoming/${String(res.body.fileId)}/`)).toBe(true);
    expect(object!.key.split('/')).toHaveLength(3);
    expect(object!.key).not.toContain('..');
  });

  it('multipart with a wrong field name → 400, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/files`)
      .set(p.auth)
      .attach('upload', Buffer.from(csv(2)), { filename: 'a.csv', contentType: 'text/csv' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unexpected_file_field');
    await expectNothingStored(t, p);
  });

  it('multipart without any file part → 400 missing_file', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).field('note', 'no file here');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('missing_file');
    await expectNothingStored(t, p);
  });

  it('a body that is not multipart on POST /files → 415', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).set('Content-Type', 'text/csv').send('a\n1\n');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    await expectNothingStored(t, p);
  });

  it('a malformed multipart body (no closing boundary) → 400, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/files`)
      .set(p.auth)
      .set('Content-Type', 'multipart/form-data; boundary=xyz')
      .send('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na,b\n1,2\n');
    expect(res.status).toBe(400);
    await expectNothingStored(t, p);
  });

  const manyFields = Array.from({ length: 10_000 }, (_, i) => ({ name: `f${i}`, data: 'x' }));
  it.each([
    ['before the file', [...manyFields, { name: 'file', filename: 'a.csv', contentType: 'text/csv', data: csv(3) }]],
    ['after the file', [{ name: 'file', filename: 'a.csv', contentType: 'text/csv', data: csv(3) }, ...manyFields]],
  ])('multipart with 10,000 fields %s → 413, nothing stored', async (_where, parts) => {
    const p = await createProjectWithKey(t);
    const { body, contentType } = multipartBody(parts);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).set('Content-Type', contentType).send(body);
    expect(res.status).toBe(413);
    expect(['too_many_fields', 'too_many_parts']).toContain(res.body.error.code);
    await expectNothingStored(t, p);
  });

  it('two file parts → 400, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const { body, contentType } = multipartBody([
      { name: 'file', filename: 'a.csv', contentType: 'text/csv', data: csv(3) },
      { name: 'file', filename: 'b.csv', contentType: 'text/csv', data: csv(3) },
    ]);
    const res = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).set('Content-Type', contentType).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('too_many_files');
    await expectNothingStored(t, p);
  });

  describe('storage unavailable during an upload', () => {
    async function withFailing(overrides: { objects?: 'putStream'; control?: 'createJob' }) {
      const p = await createProjectWithKey(t);
      const objects = instrument(t.storage.objects, overrides.objects === 'putStream' ? {
        putStream: async () => {
          throw errors.storageUnavailable(new Error('injected'));
        },
      } : {});
      const control = instrument(t.storage.control, overrides.control === 'createJob' ? {
        createJob: async () => {
          throw errors.storageUnavailable(new Error('injected'));
        },
      } : {});
      return { p, app: appOver(t, { ...t.storage, objects: objects.proxy, control: control.proxy }) };
    }

    it.each([
      ['S3 refuses the object', { objects: 'putStream' as const }],
      ['DynamoDB refuses the job', { control: 'createJob' as const }],
    ])('%s → 503 with Retry-After, and nothing is left to be ingested twice', async (_what, overrides) => {
      const { p, app } = await withFailing(overrides);
      const put = await request(app).put(`/v1/projects/${p.id}/files/a.csv`).set(p.auth).set('Content-Type', 'text/csv').send(csv(3));
      expect(put.status).toBe(503);
      expect(put.body.error.code).toBe('storage_unavailable');
      expect(put.headers['retry-after']).toEqual(expect.any(String));
      const multipart = await request(app)
        .post(`/v1/projects/${p.id}/files`)
        .set(p.auth)
        .attach('file', Buffer.from(csv(3)), { filename: 'a.csv', contentType: 'text/csv' });
      expect(multipart.status).toBe(503);
      // A client retries a 503: an object left behind would be ingested a second time.
      await expectNothingStored(t, p);
    });
  });

  describe('auth', () => {
    it('no key → 401, wrong scope → 403, other project → 403; nothing stored', async () => {
      const p = await createProjectWithKey(t);
      const other = await createProjectWithKey(t);
      const readOnly = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'ro', scopes: ['records:read'] });
      expect(readOnly.status).toBe(201);
      const writeOnly = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'wo', scopes: ['files:write'] });
      expect(writeOnly.status).toBe(201);

      const none = await request(t.app).put(`/v1/projects/${p.id}/files/a.csv`).set('Content-Type', 'text/csv').send(csv(1));
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthenticated');
      const bogus = await request(t.app).put(`/v1/projects/${p.id}/files/a.csv`).set('X-API-Key', 'ik_not_a_real_key').send(csv(1));
      expect(bogus.status).toBe(401);
      const scoped = await request(t.app).put(`/v1/projects/${p.id}/files/a.csv`).set('X-API-Key', readOnly.body.key).send(csv(1));
      expect(scoped.status).toBe(403);
      expect(scoped.body.error.code).toBe('insufficient_scope');
      const multipart = await request(t.app)
        .post(`/v1/projects/${p.id}/files`)
        .set('X-API-Key', readOnly.body.key)
        .attach('file', Buffer.from(csv(1)), { filename: 'a.csv', contentType: 'text/csv' });
      expect(multipart.status).toBe(403);
      const foreign = await request(t.app).put(`/v1/projects/${p.id}/files/a.csv`).set(other.auth).send(csv(1));
      expect(foreign.status).toBe(403);
      expect(foreign.body.error.code).toBe('key_not_for_project');
      await expectNothingStored(t, p);
      await expectNothingStored(t, other);

      // A files:write key may upload and follow its jobs, but not read records.
      // (An explicit type: fauxqs refuses application/x-www-form-urlencoded objects, superagent's default for strings.)
      const up = await request(t.app)
        .put(`/v1/projects/${p.id}/files/a.csv`)
        .set('X-API-Key', writeOnly.body.key)
        .set('Content-Type', 'text/csv')
        .send(csv(1));
      expect(up.status).toBe(202);
      const jobs = await request(t.app).get(`/v1/projects/${p.id}/jobs`).set('X-API-Key', writeOnly.body.key);
      expect(jobs.status, JSON.stringify(jobs.body)).toBe(200);
      const job = await request(t.app).get(`/v1/projects/${p.id}/jobs/${String(up.body.jobId)}`).set('X-API-Key', writeOnly.body.key);
      expect(job.status).toBe(200);
      const records = await request(t.app).get(`/v1/projects/${p.id}/records`).set('X-API-Key', writeOnly.body.key);
      expect(records.status).toBe(403);
      expect(records.body.error.code).toBe('insufficient_scope');
      const noKeyJobs = await request(t.app).get(`/v1/projects/${p.id}/jobs/${String(up.body.jobId)}`);
      expect(noKeyJobs.status).toBe(401);
    });
  });

  describe('a client that disconnects halfway', () => {
    // The server-side cleanup (delete of the partial key) is the sync point: the test waits
    // for it through a counting wrapper of the real object store, then checks the bucket.
    async function disconnectHalfway(options: { declaredLength?: number; sendBytes: number; multipart?: boolean }) {
      const p = await createProjectWithKey(t);
      const deleted: string[] = [];
      let cleanedUp!: () => void;
      const cleanup = new Promise<void>((resolve) => (cleanedUp = resolve));
      const objects = instrument(t.storage.objects, {
        delete: async (bucket: string, key: string) => {
          try {
            await t.storage.objects.delete(bucket, key);
          } finally {
            deleted.push(key);
            cleanedUp();
          }
        },
      });
      const server = await listen(appOver(t, { ...t.storage, objects: objects.proxy }));
      try {
        const boundary = 'halfway-boundary';
        const headers: Record<string, string> = { ...p.auth };
        let preamble = Buffer.alloc(0);
        if (options.multipart) {
          headers['Content-Type'] = `multipart/form-data; boundary=${boundary}`;
          preamble = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.csv"\r\nContent-Type: text/csv\r\n\r\n`);
        } else {
          headers['Content-Type'] = 'text/csv';
        }
        if (options.declaredLength !== undefined) headers['Content-Length'] = String(options.declaredLength);
        const req = http.request({
          host: '127.0.0.1',
          port: server.port,
          method: options.multipart ? 'POST' : 'PUT',
          path: options.multipart ? `/v1/projects/${p.id}/files` : `/v1/projects/${p.id}/files/half.csv`,
          headers,
        });
        let answered: number | undefined;
        req.on('response', (res) => {
          answered = res.statusCode;
          res.resume();
        });
        req.on('error', () => undefined);
        req.write(preamble);
        const line = Buffer.from('1234567890,abcdefghijklmnopqrstuvwxyz\n');
        const source = generatedStream(options.sendBytes, (_o, size) => Buffer.concat(Array(Math.ceil(size / line.length)).fill(line)).subarray(0, size));
        for await (const chunk of source) {
          if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
        }
        // Let the server take in what was sent (and the S3 upload start) before going away.
        await sleep(300);
        req.destroy();
        await Promise.race([cleanup, sleep(10_000)]);
        expect(deleted.some((key) => key.startsWith('incoming/'))).toBe(true);
        // Give a buggy server time to complete the object or create the job anyway.
        await sleep(500);
        expect(answered).toBeUndefined();
        await expectNothingStored(t, p);
        await expectNoMultipartUploads(p);
      } finally {
        await server.close();
      }
    }

    async function expectNoMultipartUploads(p: TestProject) {
      const env = testAwsEnv();
      const s3 = new S3Client({ region: env.region, endpoint: env.s3Endpoint, credentials: env.credentials, ...S3_EMULATOR_CLIENT_OPTIONS });
      try {
        const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: p.project.bucketName }));
        expect(out.Uploads ?? []).toEqual([]);
      } finally {
        s3.destroy();
      }
    }

    it('PUT with a Content-Length, small body: no object, no job', async () => {
      await disconnectHalfway({ declaredLength: 200_000, sendBytes: 100_000 });
    });

    it('PUT with a Content-Length past the first S3 part: no object, no parts, no job', async () => {
      await disconnectHalfway({ declaredLength: 24 * 1024 * 1024, sendBytes: 12 * 1024 * 1024 });
    });

    it('PUT chunked: no object, no job', async () => {
      await disconnectHalfway({ sendBytes: 100_000 });
    });

    it('multipart: no object, no job', async () => {
      await disconnectHalfway({ sendBytes: 100_000, multipart: true });
    });
  });
});

describe('file size limit (INTAKE_MAX_FILE_BYTES=1000)', () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_MAX_FILE_BYTES: '1000' } });
    server = await listen(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('exactly the limit is accepted', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app).put(`/v1/projects/${p.id}/files/a.txt`).set(p.auth).send(Buffer.alloc(1000, 0x61));
    expect(res.status).toBe(202);
    expect(res.body.bytes).toBe(1000);
  });

  it('a declared Content-Length over the limit → 413 before reading, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app).put(`/v1/projects/${p.id}/files/a.csv`).set(p.auth).set('Content-Type', 'text/csv').send(Buffer.alloc(1001, 0x61));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingStored(t, p);
  });

  it('a chunked body over the limit → 413 inside the stream, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const res = await streamRequest(server.port, {
      method: 'PUT',
      path: `/v1/projects/${p.id}/files/a.csv`,
      headers: { ...p.auth, 'Content-Type': 'text/csv' },
      body: generatedStream(5000, (_o, size) => Buffer.alloc(size, 0x62), 500),
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
    await expectNothingStored(t, p);
  });

  it('a large chunked body (8 MiB) over the limit → 413 without reading it all, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    let produced = 0;
    const body = generatedStream(8 * 1024 * 1024, (_o, size) => {
      produced += size;
      return Buffer.alloc(size, 0x63);
    });
    const res = await streamRequest(server.port, {
      method: 'PUT',
      path: `/v1/projects/${p.id}/files/a.csv`,
      headers: { ...p.auth, 'Content-Type': 'text/csv' },
      body,
    }).catch((error: unknown) => ({ status: -1, body: { error: String(error) }, headers: {} }));
    expect(res.status).toBe(413);
    body.destroy();
    expect(produced).toBeLessThan(8 * 1024 * 1024);
    await expectNothingStored(t, p);
  });

  it('a multipart file over the limit → 413, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/files`)
      .set(p.auth)
      .attach('file', Buffer.alloc(2000, 0x61), { filename: 'big.csv', contentType: 'text/csv' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingStored(t, p);
  });

  it('a multipart file over the limit, streamed chunked → 413, nothing stored', async () => {
    const p = await createProjectWithKey(t);
    const boundary = 'limit-boundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const res = await streamRequest(server.port, {
      method: 'POST',
      path: `/v1/projects/${p.id}/files`,
      headers: { ...p.auth, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.from([head, Buffer.alloc(3000, 0x61), tail]),
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
    await expectNothingStored(t, p);
  });
});

describe('embedded mode (SQLite and files on disk)', () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    t = await createTestApp({ mode: 'embedded', env: { INTAKE_MAX_FILE_BYTES: String(64 * 1024) } });
    server = await listen(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('PUT and multipart store the file with its metadata and queue its job', async () => {
    const p = await createProjectWithKey(t);
    const body = Buffer.from(csv(3));
    const put = await request(t.app).put(`/v1/projects/${p.id}/files/${encodeURIComponent('../a b.csv')}`).set(p.auth).set('Content-Type', 'text/csv').send(body);
    expect(put.status).toBe(202);
    const multipart = await request(t.app).post(`/v1/projects/${p.id}/files`).set(p.auth).attach('file', body, { filename: 'm.csv', contentType: 'text/csv' });
    expect(multipart.status).toBe(202);
    await expectIncomingFile(t, p, multipart.body, 'm.csv', body);
    const keys = (await bucketObjects(t, p)).map((o) => o.key).sort();
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key.split('/')).toHaveLength(3);
    expect(await listJobs(t, p)).toHaveLength(2);
  });

  it('over the limit (chunked) → 413 and nothing stored, not even a temp file in a listing', async () => {
    const p = await createProjectWithKey(t);
    const res = await streamRequest(server.port, {
      method: 'PUT',
      path: `/v1/projects/${p.id}/files/big.csv`,
      headers: { ...p.auth, 'Content-Type': 'text/csv' },
      body: generatedStream(256 * 1024, (_o, size) => Buffer.alloc(size, 0x61), 16 * 1024),
    });
    expect(res.status).toBe(413);
    await expectNothingStored(t, p);
  });
});
