// Admin routes for projects: creation provisions the project's own table and bucket; every
// refused request is checked to have left the control table, tables and buckets as they were.
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectItem } from '../../src/domain/model.js';
import { S3_EMULATOR_CLIENT_OPTIONS, testAwsEnv } from '../support/endpoints.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const PROJECT_IDS = ['alpha', 'beta-2', 'gamma', '000', 'z-last-one'];

let t: TestApp;
let dynamo: DynamoDBClient;
let s3: S3Client;
let alphaResponse: request.Response;
let apiKey: string;

async function allProjects(): Promise<ProjectItem[]> {
  const out: ProjectItem[] = [];
  let after: string | undefined;
  do {
    const page = await t.storage.control.listProjects({ limit: 100, after });
    out.push(...page.items);
    after = page.next;
  } while (after !== undefined);
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Everything a project creation can write: control items, tables and buckets under the app's prefix. */
async function storageState() {
  const tables: string[] = [];
  let start: string | undefined;
  do {
    const out = await dynamo.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    tables.push(...(out.TableNames ?? []).filter((name) => name.startsWith(t.prefix)));
    start = out.LastEvaluatedTableName;
  } while (start);
  const buckets = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? [])
    .map((b) => b.Name ?? '')
    .filter((name) => name.startsWith(t.prefix));
  return { projects: await allProjects(), tables: tables.sort(), buckets: buckets.sort() };
}

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
}

beforeAll(async () => {
  t = await createTestApp();
  const env = testAwsEnv();
  dynamo = new DynamoDBClient({ region: env.region, endpoint: env.dynamodbEndpoint, credentials: env.credentials });
  s3 = new S3Client({ region: env.region, endpoint: env.s3Endpoint, credentials: env.credentials, ...S3_EMULATOR_CLIENT_OPTIONS });
  alphaResponse = await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'alpha', name: 'Alpha Team' });
  const others = await Promise.all(
    PROJECT_IDS.slice(1).map((id) => request(t.app).post('/v1/projects').set(t.admin).send({ id, name: `Project ${id}` })),
  );
  for (const res of others) expect(res.status).toBe(201);
  const key = await request(t.app).post('/v1/projects/alpha/keys').set(t.admin).send({ name: 'alpha key' });
  expect(key.status).toBe(201);
  apiKey = key.body.key;
});

afterAll(async () => {
  dynamo?.destroy();
  s3?.destroy();
  await t?.close();
});

describe('POST /v1/projects', () => {
  it('creates the project with its own table and bucket (201)', async () => {
    expect(alphaResponse.status).toBe(201);
    const body = alphaResponse.body;
    const core = {
      id: 'alpha',
      name: 'Alpha Team',
      createdAt: expect.any(String),
      tableName: `${t.prefix}alpha-records`,
      bucketName: `${t.prefix}alpha`,
    };
    expect(body).toMatchObject(core);
    expect(alphaResponse.headers.location).toBe('/v1/projects/alpha');
    expect(Date.parse(body.createdAt)).not.toBeNaN();

    const table = await dynamo.send(new DescribeTableCommand({ TableName: body.tableName }));
    expect(table.Table?.TableStatus).toBe('ACTIVE');
    await expect(s3.send(new HeadBucketCommand({ Bucket: body.bucketName }))).resolves.toBeTruthy();
    expect(await t.storage.control.getProject('alpha')).toMatchObject({ ...core, createdAt: body.createdAt });
  });

  it.each([
    ['too short', 'ab'],
    ['uppercase', 'Alpha-Upper'],
    ['41 characters', 'a'.repeat(41)],
    ['a slash', 'a/b'],
    ['a traversal', '../alpha'],
    ['empty', ''],
    ['an underscore', 'ab_c'],
    ['a space', 'abc '],
    ['non-ASCII', 'ünïcode'],
  ])('refuses an id that is %s with 400 invalid_project_id, creating nothing', async (_label, id) => {
    const before = await storageState();
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: 'Bad id' });
    expectError(res, 400, 'invalid_project_id');
    expect(await storageState()).toEqual(before);
  });

  it('accepts an id of exactly 40 characters', async () => {
    const id = `${'b'.repeat(39)}1`;
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: 'Long id' });
    expect(res.status).toBe(201);
    expect((await t.storage.control.getProject(id))?.name).toBe('Long id');
  });

  it('refuses a duplicate id with 409 project_exists and keeps the original', async () => {
    const before = await storageState();
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'alpha', name: 'Impostor' });
    expectError(res, 409, 'project_exists');
    expect(await storageState()).toEqual(before);
    expect((await t.storage.control.getProject('alpha'))?.name).toBe('Alpha Team');
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong admin token', { Authorization: 'Bearer not-the-admin-token' }],
    ['the admin token with another scheme', { Authorization: `Basic ${'x'}` }],
    ['an empty bearer', { Authorization: 'Bearer ' }],
  ])('refuses %s with 401, creating nothing', async (_label, headers: Record<string, string>) => {
    const before = await storageState();
    const res = await request(t.app).post('/v1/projects').set(headers).send({ id: 'unauth', name: 'Nope' });
    expectError(res, 401, 'unauthenticated');
    expect(res.text).not.toContain(t.adminToken);
    expect(await storageState()).toEqual(before);
  });

  it('refuses an API key on the admin route with 401, whichever header carries it', async () => {
    const before = await storageState();
    const viaBearer = await request(t.app)
      .post('/v1/projects')
      .set('Authorization', `Bearer ${apiKey}`)
      .send({ id: 'by-key', name: 'By key' });
    expectError(viaBearer, 401, 'unauthenticated');
    const viaHeader = await request(t.app).post('/v1/projects').set('X-API-Key', apiKey).send({ id: 'by-key', name: 'x' });
    expectError(viaHeader, 401, 'unauthenticated');
    const listKeys = await request(t.app).get('/v1/projects/alpha/keys').set('Authorization', `Bearer ${apiKey}`);
    expectError(listKeys, 401, 'unauthenticated');
    expect(await storageState()).toEqual(before);
  });

  it('refuses unknown fields with 400 validation_failed naming them', async () => {
    const before = await storageState();
    const res = await request(t.app)
      .post('/v1/projects')
      .set(t.admin)
      .send({ id: 'extra', name: 'Extra', tableName: 'someone-elses-table' });
    expectError(res, 400, 'validation_failed');
    expect(JSON.stringify(res.body.error.details)).toContain('tableName');
    expect(await storageState()).toEqual(before);
  });

  it('keeps __proto__ in the body from polluting anything and refuses it as an unknown field', async () => {
    const before = await storageState();
    const res = await request(t.app)
      .post('/v1/projects')
      .set(t.admin)
      .set('Content-Type', 'application/json')
      .send('{"id":"proto-x","name":"x","__proto__":{"isAdmin":true,"id":"hijack"}}');
    expectError(res, 400, 'validation_failed');
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(await storageState()).toEqual(before);
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['a newline', 'line\nbreak'],
    ['a tab', 'tab\there'],
    ['a C1 control', 'next\u0085line'],
    ['a line separator', 'a\u2028b'],
    ['10,000 characters', 'n'.repeat(10_000)],
    ['only spaces', '   '],
    ['nothing', ''],
  ])('refuses a name with %s with 400 validation_failed', async (_label, name) => {
    const before = await storageState();
    const res = await request(t.app).post('/v1/projects').set(t.admin).send({ id: 'bad-name', name });
    expectError(res, 400, 'validation_failed');
    expect(await storageState()).toEqual(before);
  });

  it.each([
    ['a missing id', { name: 'x' }],
    ['a numeric id', { id: 12345, name: 'x' }],
    ['a missing name', { id: 'no-name' }],
    ['an array body', [{ id: 'arr', name: 'x' }]],
  ])('refuses %s with 400 validation_failed', async (_label, body) => {
    const before = await storageState();
    const res = await request(t.app).post('/v1/projects').set(t.admin).send(body);
    expectError(res, 400, 'validation_failed');
    expect(await storageState()).toEqual(before);
  });

  it('refuses malformed JSON (400), a non-JSON content type (415) and an oversized body (413)', async () => {
    const before = await storageState();
    const malformed = await request(t.app)
      .post('/v1/projects')
      .set(t.admin)
      .set('Content-Type', 'application/json')
      .send('{"id":"broken",');
    expectError(malformed, 400, 'malformed_json');
    const text = await request(t.app)
      .post('/v1/projects')
      .set(t.admin)
      .set('Content-Type', 'text/plain')
      .send('{"id":"texty","name":"x"}');
    expectError(text, 415, 'unsupported_media_type');
    const huge = await request(t.app)
      .post('/v1/projects')
      .set(t.admin)
      .send({ id: 'huge', name: 'x', pad: 'p'.repeat(100 * 1024) });
    expectError(huge, 413, 'payload_too_large');
    expect(await storageState()).toEqual(before);
  });
});

describe('GET /v1/projects/{projectId}', () => {
  it('returns the project', async () => {
    const res = await request(t.app).get('/v1/projects/alpha').set(t.admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(alphaResponse.body);
  });

  it('answers 404 project_not_found for an unknown or impossible id', async () => {
    expectError(await request(t.app).get('/v1/projects/nope-nope').set(t.admin), 404, 'project_not_found');
    expectError(await request(t.app).get('/v1/projects/UPPER').set(t.admin), 404, 'project_not_found');
    expectError(await request(t.app).get(`/v1/projects/${'x'.repeat(300)}`).set(t.admin), 404, 'project_not_found');
  });

  it('requires the admin token', async () => {
    expectError(await request(t.app).get('/v1/projects/alpha'), 401, 'unauthenticated');
    expectError(await request(t.app).get('/v1/projects/alpha').set('X-API-Key', apiKey), 401, 'unauthenticated');
  });
});

describe('GET /v1/projects', () => {
  it('lists every project', async () => {
    const res = await request(t.app).get('/v1/projects').set(t.admin);
    expect(res.status).toBe(200);
    const ids = (res.body.items as { id: string }[]).map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(PROJECT_IDS));
    expect(new Set(ids).size).toBe(ids.length);
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages with limit and cursor, returning each project exactly once', async () => {
    const expected = (await allProjects()).map((p) => p.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await request(t.app)
        .get('/v1/projects')
        .query(cursor === null ? { limit: '2' } : { limit: '2', cursor })
        .set(t.admin);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.items as { id: string }[]).map((p) => p.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(cursor).toBeNull();
    expect(pages).toBeGreaterThanOrEqual(3);
    expect([...seen].sort()).toEqual([...expected].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it.each(['0', '1001', '-1', 'abc'])('refuses limit=%s with 400 invalid_limit', async (limit) => {
    expectError(await request(t.app).get('/v1/projects').query({ limit }).set(t.admin), 400, 'invalid_limit');
  });

  it('refuses a forged, edited or foreign cursor with 400 invalid_cursor', async () => {
    const first = await request(t.app).get('/v1/projects').query({ limit: '1' }).set(t.admin);
    const cursor: string = first.body.nextCursor;
    expect(typeof cursor).toBe('string');
    const edited = (cursor[0] === 'A' ? 'B' : 'A') + cursor.slice(1);
    const foreign = t.services.cursors.encode('records:alpha', 'alpha');
    for (const bad of ['garbage', edited, foreign, `${cursor}.x`]) {
      expectError(await request(t.app).get('/v1/projects').query({ cursor: bad }).set(t.admin), 400, 'invalid_cursor');
    }
  });
});
