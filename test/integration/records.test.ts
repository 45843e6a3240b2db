// Pushing and reading records. Every refused request is checked against the records
// table itself (scanned page by page), so nothing can have been written or half-written.
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.js';

const P = 'rec-main';
const PAGING = 'rec-paging';
const OTHER = 'rec-other';
const MAX_BODY = 1024 * 1024;
const MAX_RECORDS = 300;

let t: TestApp;
let key: string;
let otherKey: string;

type Body = string | Buffer | object;

/** Each project's own key; the paging project is driven with the admin token. */
const auth = (project: string): Record<string, string> =>
  project === P ? { 'X-API-Key': key } : project === OTHER ? { 'X-API-Key': otherKey } : t.admin;

function post(body: Body, contentType: string | null = 'application/json', project = P, headers: Record<string, string> = {}) {
  const req = request(t.app)
    .post(`/v1/projects/${project}/records`)
    .set(auth(project))
    .set(headers);
  if (contentType !== null) req.set('Content-Type', contentType);
  if (typeof body === 'object' && !Buffer.isBuffer(body)) return req.send(body);
  // Text and bytes go out exactly as given (superagent would JSON-encode a Buffer under a
  // JSON content type), with no Content-Type unless one was set above.
  return req.serialize((raw: unknown) => raw as string).send(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

const postNdjson = (lines: string[], project = P) => post(lines.join('\n'), 'application/x-ndjson', project);

const getRecord = (id: string, project = P) =>
  request(t.app).get(`/v1/projects/${project}/records/${id}`).set(auth(project));

const listRecords = (query: Record<string, string>, project = P) =>
  request(t.app).get(`/v1/projects/${project}/records`).query(query).set(auth(project));

async function storedIds(project = P): Promise<string[]> {
  const table = (await t.storage.control.getProject(project))!.tableName;
  const ids: string[] = [];
  let afterId: string | undefined;
  do {
    const page = await t.storage.records.listRecords(table, { limit: 1000, afterId });
    ids.push(...page.items.map((r) => r.id));
    afterId = page.lastId;
  } while (afterId !== undefined);
  return ids.sort();
}

function expectError(res: request.Response, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
}

/** Runs `send` and asserts its refusal left the project's records exactly as they were. */
async function expectRefusedAndNothingStored(send: () => PromiseLike<request.Response>, status: number, code: string, project = P) {
  const before = await storedIds(project);
  expectError(await send(), status, code);
  expect(await storedIds(project)).toEqual(before);
}

/** The `data` member of a record response, as raw JSON text (JSON.parse would round big numbers). */
function rawData(text: string): string {
  const start = text.indexOf('"data":') + '"data":'.length;
  const end = text.lastIndexOf(',"source":');
  return text.slice(start, end);
}

beforeAll(async () => {
  t = await createTestApp({
    env: { INTAKE_MAX_BODY_BYTES: String(MAX_BODY), INTAKE_MAX_RECORDS_PER_REQUEST: String(MAX_RECORDS) },
  });
  for (const id of [P, PAGING, OTHER]) {
    expect((await request(t.app).post('/v1/projects').set(t.admin).send({ id, name: id })).status).toBe(201);
  }
  const keys = await Promise.all(
    [P, OTHER].map((id) => request(t.app).post(`/v1/projects/${id}/keys`).set(t.admin).send({ name: 'pusher' })),
  );
  [key, otherKey] = keys.map((res) => res.body.key as string) as [string, string];
});

afterAll(async () => t?.close());

describe('POST records: what is accepted', () => {
  it('stores one object and reads it back as {id, data, source, ingestedAt}', async () => {
    const before = await storedIds();
    const res = await post({ name: 'Ada', age: 36 });
    expect(res.status).toBe(200);
    // The project's first write: both of its fields are new to the field catalog.
    expect(res.body).toEqual({ accepted: 1, rejected: 0, records: [{ index: 0, id: expect.any(String) }], errors: [], newFields: ['age', 'name'] });
    const id = res.body.records[0].id;
    expect(await storedIds()).toEqual([...before, id].sort());
    const got = await getRecord(id);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      id,
      data: { name: 'Ada', age: 36 },
      source: { type: 'api', keyId: expect.any(String), requestId: res.headers['x-request-id'], index: 0 },
      ingestedAt: expect.any(String),
    });
  });

  it('stores an array of objects, each id reported by its index', async () => {
    const before = await storedIds();
    const rows = [{ n: 0 }, { n: 1 }, { n: 2 }];
    const res = await post(rows);
    expect(res.body).toMatchObject({ accepted: 3, rejected: 0, errors: [] });
    expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 1, 2]);
    for (const { index, id } of res.body.records) expect((await getRecord(id)).body.data).toEqual(rows[index]);
    expect((await storedIds()).length).toBe(before.length + 3);
  });

  it('stores the good elements of an array and reports the others by index', async () => {
    const before = await storedIds();
    const res = await post('[{"a":1},2,null,"x",[],{"b":2}]');
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 5]);
    expect(res.body.errors).toEqual([1, 2, 3, 4].map((index) => ({ index, code: 'not_an_object', message: expect.any(String) })));
    expect((await storedIds()).length).toBe(before.length + 2);
  });

  it('stores the good lines of NDJSON and reports the bad ones by 0-based line index', async () => {
    const before = await storedIds();
    const res = await postNdjson(['{"a":1}', '{bad json', '', '[1,2]', '"str"', '{"b":2}\r', '{"c":', '']);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 4 });
    expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 5]);
    expect(res.body.errors.map((e: { index: number; code: string }) => [e.index, e.code])).toEqual([
      [1, 'invalid_json'],
      [3, 'not_an_object'],
      [4, 'not_an_object'],
      [6, 'invalid_json'],
    ]);
    const [first, second] = res.body.records;
    expect((await getRecord(first.id)).body.data).toEqual({ a: 1 });
    expect((await getRecord(second.id)).body.data).toEqual({ b: 2 });
    expect((await storedIds()).length).toBe(before.length + 2);
  });

  it('accepts application/ndjson and a JSON charset of utf-8', async () => {
    expect((await post('{"x":1}\n{"x":2}\n', 'application/ndjson')).body.accepted).toBe(2);
    expect((await post('{"x":3}', 'application/json; charset=utf-8')).body.accepted).toBe(1);
  });

  it('answers 200 with zero accepted for an empty array and for NDJSON of blank lines', async () => {
    const before = await storedIds();
    const empty = await post('[]');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ accepted: 0, rejected: 0, records: [], errors: [] });
    expect((await post('\n\n  \n', 'application/x-ndjson')).body).toEqual({ accepted: 0, rejected: 0, records: [], errors: [] });
    expect(await storedIds()).toEqual(before);
  });

  it('answers 200 with zero accepted when every NDJSON line is bad', async () => {
    const before = await storedIds();
    const res = await postNdjson(['nope', '42']);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 0, rejected: 2, records: [] });
    expect(await storedIds()).toEqual(before);
  });
});

describe('POST records: types survive exactly', () => {
  const exact =
    '{"big":12345678901234567890123,"negBig":-98765432109876543210,"dec":0.1000000000000000055511151231257827,' +
    '"negZero":-0,"huge":1e400,"exp":1E+2,"t":true,"f":false,"n":null,' +
    '"s":"héllo ключ 日本 😀 \\ud800 \\"quoted\\" \\\\ \\n","empty":"",' +
    '"nested":{"a":[1,[2,{"b":null}]],"e":{},"arr":[]}}';

  it('keeps numbers, booleans, null, nesting and Unicode byte for byte', async () => {
    const res = await post(exact);
    expect(res.body.accepted).toBe(1);
    const got = await getRecord(res.body.records[0].id);
    expect(got.status).toBe(200);
    expect(rawData(got.text)).toBe(exact);
    const parsed = got.body.data;
    expect(parsed.s).toBe('héllo ключ 日本 😀 \ud800 "quoted" \\ \n');
    expect(parsed.nested).toEqual({ a: [1, [2, { b: null }]], e: {}, arr: [] });
    expect([parsed.t, parsed.f, parsed.n]).toEqual([true, false, null]);
  });

  it('keeps them exactly in listings and in NDJSON too', async () => {
    const res = await post(`${exact}\n`, 'application/x-ndjson', PAGING);
    const id = res.body.records[0].id;
    expect((await getRecord(id, PAGING)).text).toContain(`"data":${exact}`);
    const listed = await request(t.app).get(`/v1/projects/${PAGING}/records`).query({ limit: '1000' }).set(t.admin);
    expect(listed.text).toContain(`{"id":"${id}","data":${exact},`);
  });

  it('stores __proto__, constructor and prototype keys at every level as plain data', async () => {
    const body =
      '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"x":1},' +
      '"nested":{"__proto__":{"isAdmin":true},"list":[{"constructor":"c","__proto__":null,"prototype":[1]}]}}';
    const res = await post(`[${body},${body}]`);
    expect(res.body.accepted).toBe(2);
    const ndjson = await post(`${body}\n`, 'application/x-ndjson');
    expect(ndjson.body.accepted).toBe(1);
    for (const id of [res.body.records[0].id, ndjson.body.records[0].id]) {
      const got = await getRecord(id);
      expect(rawData(got.text)).toBe(body);
    }
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(probe.isAdmin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // The app still behaves: a later request is unaffected.
    expect((await post({ after: 'pollution attempt' })).body.accepted).toBe(1);
  });

  it('rejects a record over 400 KB alone while its siblings are stored', async () => {
    const before = await storedIds();
    const big = { big: 'x'.repeat(410 * 1024) };
    const nearLimit = { near: 'y'.repeat(399 * 1024) };
    const res = await post([{ small: 1 }, big, nearLimit, { small: 2 }]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3);
    expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 2, 3]);
    expect(res.body.errors).toEqual([{ index: 1, code: 'record_too_large', message: expect.any(String) }]);
    const after = await storedIds();
    expect(after.length).toBe(before.length + 3);
    expect(after).toEqual(expect.arrayContaining(res.body.records.map((r: { id: string }) => r.id)));
    expect((await getRecord(res.body.records[1].id)).body.data).toEqual(nearLimit);
  });
});

describe('POST records: refused bodies store nothing', () => {
  it.each(['{"a":1', '{a:1}', '[{"a":1},]', '{"a":1}{"b":2}', '{"a":1,"a":2}'])(
    'refuses malformed JSON %j with 400 malformed_json',
    async (body) => {
      await expectRefusedAndNothingStored(() => post(body), 400, 'malformed_json');
    },
  );

  it.each(['"just a string"', '42', 'null', 'true'])('refuses a top-level %s with 400 invalid_body', async (body) => {
    await expectRefusedAndNothingStored(() => post(body), 400, 'invalid_body');
  });

  it('refuses an empty body (400 invalid_body) and nesting past the depth limit (400 too_deep)', async () => {
    await expectRefusedAndNothingStored(() => post(''), 400, 'invalid_body');
    const deep = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
    await expectRefusedAndNothingStored(() => post(deep), 400, 'too_deep');
  });

  it.each<[string, string | null]>([
    ['text/plain', 'text/plain'],
    ['no content type', null],
    ['a latin1 charset', 'application/json; charset=latin1'],
    ['form encoding', 'application/x-www-form-urlencoded'],
    ['XML', 'application/xml'],
  ])('refuses %s with 415 unsupported_media_type', async (_label, contentType) => {
    await expectRefusedAndNothingStored(() => post('{"a":1}', contentType), 415, 'unsupported_media_type');
  });

  it('refuses a body over INTAKE_MAX_BODY_BYTES with 413 payload_too_large', async () => {
    const pad = 'p'.repeat(MAX_BODY);
    await expectRefusedAndNothingStored(() => post(`[{"pad":"${pad}"}]`), 413, 'payload_too_large');
    await expectRefusedAndNothingStored(() => post(`{"a":1}\n{"pad":"${pad}"}\n`, 'application/x-ndjson'), 413, 'payload_too_large');
  });

  it('refuses a gzip body that inflates past the limit with 413', async () => {
    const bomb = gzipSync(Buffer.from(`[{"pad":"${' '.repeat(4 * MAX_BODY)}"}]`));
    expect(bomb.length).toBeLessThan(MAX_BODY / 10);
    await expectRefusedAndNothingStored(
      () => post(bomb, 'application/json', P, { 'Content-Encoding': 'gzip' }),
      413,
      'payload_too_large',
    );
  });

  it('refuses invalid UTF-8 with 400 invalid_utf8, even in a single NDJSON line', async () => {
    const bad = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    await expectRefusedAndNothingStored(() => post(bad), 400, 'invalid_utf8');
    const ndjson = Buffer.concat([Buffer.from('{"ok":1}\n{"s":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]);
    await expectRefusedAndNothingStored(() => post(ndjson, 'application/x-ndjson'), 400, 'invalid_utf8');
  });

  it('refuses more than INTAKE_MAX_RECORDS_PER_REQUEST records with 413 too_many_records', async () => {
    const tooMany = Array.from({ length: MAX_RECORDS + 1 }, (_, i) => ({ i }));
    await expectRefusedAndNothingStored(() => post(tooMany), 413, 'too_many_records');
    const lines = tooMany.map((r) => JSON.stringify(r));
    await expectRefusedAndNothingStored(() => postNdjson(lines), 413, 'too_many_records');
  });
});

describe('Idempotency-Key', () => {
  it('makes a retry write nothing twice: same ids, same ingestedAt, same count', async () => {
    const body = [{ order: 1 }, { order: 2 }, { order: 3 }];
    const before = await storedIds();
    const first = await post(body, 'application/json', P, { 'Idempotency-Key': 'order-batch-1' });
    expect(first.body.accepted).toBe(3);
    const afterFirst = await storedIds();
    expect(afterFirst.length).toBe(before.length + 3);
    const firstRead = await getRecord(first.body.records[0].id);

    const retry = await post(body, 'application/json', P, { 'Idempotency-Key': 'order-batch-1' });
    expect(retry.status).toBe(200);
    expect(retry.body.records).toEqual(first.body.records);
    expect(await storedIds()).toEqual(afterFirst);
    const retryRead = await getRecord(first.body.records[0].id);
    // Byte-identical items: a retry changes neither the time nor the source.
    expect(retryRead.text).toBe(firstRead.text);
    expect(retryRead.body.source).toMatchObject({ type: 'api', idempotencyKey: 'order-batch-1', index: 0 });
  });

  it('refuses the same key with a different body with 422 idempotency_key_reused', async () => {
    await post([{ v: 1 }], 'application/json', P, { 'Idempotency-Key': 'reuse-me' });
    await expectRefusedAndNothingStored(
      () => post([{ v: 2 }], 'application/json', P, { 'Idempotency-Key': 'reuse-me' }),
      422,
      'idempotency_key_reused',
    );
    await expectRefusedAndNothingStored(
      () => post('{"v":1}\n', 'application/x-ndjson', P, { 'Idempotency-Key': 'reuse-me' }),
      422,
      'idempotency_key_reused',
    );
  });

  it('keeps keys of different projects apart', async () => {
    const mine = await post({ k: 1 }, 'application/json', P, { 'Idempotency-Key': 'shared-name' });
    const theirs = await post({ k: 2 }, 'application/json', OTHER, { 'Idempotency-Key': 'shared-name' });
    expect([mine.status, theirs.status]).toEqual([200, 200]);
    expect((await getRecord(theirs.body.records[0].id, OTHER)).body.data).toEqual({ k: 2 });
  });

  it('refuses an over-long key with 400 validation_failed', async () => {
    await expectRefusedAndNothingStored(
      () => post({ a: 1 }, 'application/json', P, { 'Idempotency-Key': 'k'.repeat(256) }),
      400,
      'validation_failed',
    );
  });
});

describe('GET records', () => {
  it('answers 404 record_not_found for an unknown id', async () => {
    expectError(await getRecord('01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404, 'record_not_found');
    expectError(await getRecord('x'.repeat(300)), 404, 'record_not_found');
  });

  it('does not read another project’s record through this project', async () => {
    const theirs = await post({ secret: 'theirs' }, 'application/json', OTHER);
    const res = await request(t.app).get(`/v1/projects/${P}/records/${theirs.body.records[0].id}`).set('X-API-Key', key);
    expectError(res, 404, 'record_not_found');
  });

  it.each(['0', '1001', '-1', 'abc', '1.5', ''])('refuses limit=%j with 400 invalid_limit', async (limit) => {
    expectError(await listRecords({ limit }), 400, 'invalid_limit');
  });

  it('refuses forged, edited and foreign cursors with 400 invalid_cursor', async () => {
    await post([{ c: 1 }, { c: 2 }], 'application/json', OTHER);
    const mine = (await listRecords({ limit: '1' })).body.nextCursor as string;
    const theirs = (await listRecords({ limit: '1' }, OTHER)).body.nextCursor as string;
    expect(typeof mine).toBe('string');
    expect(typeof theirs).toBe('string');
    const [payload, signature] = mine.split('.') as [string, string];
    const edited = `${payload.slice(0, -1)}${payload.endsWith('A') ? 'B' : 'A'}.${signature}`;
    const forgedPayload = Buffer.from(JSON.stringify({ s: `records:${P}`, p: '0' })).toString('base64url');
    const projectsCursor = t.services.cursors.encode('projects', P);
    for (const cursor of ['garbage', edited, `${forgedPayload}.${signature}`, theirs, projectsCursor, '']) {
      expectError(await listRecords({ cursor }), 400, 'invalid_cursor');
    }
    // The untouched cursor still works.
    expect((await listRecords({ cursor: mine })).status).toBe(200);
  });

  it('pages through 250 records with limit=100, each exactly once', async () => {
    const before = await storedIds(PAGING);
    const rows = Array.from({ length: 250 }, (_, i) => ({ row: i }));
    const pushed = await post(rows, 'application/json', PAGING);
    expect(pushed.body.accepted).toBe(250);
    const expected = new Set(await storedIds(PAGING));
    expect(expected.size).toBe(before.length + 250);

    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await listRecords(cursor === null ? { limit: '100' } : { limit: '100', cursor }, PAGING);
      expect(res.status).toBe(200);
      sizes.push(res.body.items.length);
      seen.push(...res.body.items.map((r: { id: string }) => r.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null && sizes.length < 10);
    expect(cursor).toBeNull();
    expect(sizes[0]).toBe(100);
    expect(sizes.every((n) => n <= 100)).toBe(true);
    expect(seen).toHaveLength(expected.size);
    expect(new Set(seen)).toEqual(expected);
  });
});
