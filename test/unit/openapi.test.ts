// Keeps openapi.yaml and the service in step: the document is well formed, every route the
// app serves is in it and every operation in it is served, and real answers (status, error
// code, body shape) are the ones the document promises. The app runs on embedded storage
// (SQLite, files under a temp dir), so no emulator or network is needed.
import request, { type Response } from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { errors, type AppError } from '../../src/errors.js';
import { toAppError } from '../../src/http/middleware/error-handler.js';
import { servedRoutes, startContractApp } from '../support/openapi-app.js';
import { appErrorLiterals, OpenApiContract, opName } from '../support/openapi-contract.js';
import {
  asObject,
  checkSchema,
  collectRefs,
  deref,
  errorCodesOf,
  examplesOf,
  loadOpenApi,
  operationsOf,
  parametersOf,
  resolvePointer,
  unknownSchemaKeywords,
  type Json,
  type JsonObject,
} from '../support/openapi-spec.js';

const spec = loadOpenApi();
const doc = spec.doc;
const operations = operationsOf(doc);

/** Paths served by the `/docs` mount (swagger-ui-express) rather than by routes. */
const DOCS_MOUNT = '/docs';
const DOCS_PATHS = ['/docs', '/docs/'];
const ADMIN_PATHS = new Set([
  '/v1/projects',
  '/v1/projects/{projectId}',
  '/v1/projects/{projectId}/keys',
  '/v1/projects/{projectId}/keys/{keyId}',
  '/v1/projects/{projectId}/model',
  '/v1/projects/{projectId}/quarantine/{entryId}',
  '/v1/projects/{projectId}/model/preview',
  '/v1/overview',
]);
/** Admin-only operations on a path whose other methods take a project's key. */
const ADMIN_OPERATIONS = new Set(['DELETE /v1/projects/{projectId}/quarantine']);
/** The one error response that is not the error model: readiness reports its own body. */
const NOT_ERROR_MODEL = new Set(['GET /readyz 503']);
/** Codes the service defines that no client can meet, and why. */
const UNREACHABLE_CODES: Record<string, string> = {
  shutting_down: 'no route raises it; /readyz reports shutdown in its own 503 body',
  request_aborted: 'the client has gone and never reads the answer',
  record_too_large:
    "the record stores' own guard: the record builder refuses such a record first, as a per-record error of a push or a row error of a job",
  duplicate_key: 'a per-record error of an array or NDJSON push (documented there); a single-object body that repeats a key is malformed_json',
};

const oas = new OpenApiContract(doc, NOT_ERROR_MODEL);
const { findOperation, responseOf, requestExample, responseExample } = oas;

function expectDocumented(method: string, path: string, res: Response, status?: number): void {
  expect(oas.disagreements(method, path, res)).toEqual([]);
  if (status !== undefined) expect(res.status, res.text).toBe(status);
}

/** A push result without its generated ids and parser wording, for comparing with an example. */
function pushOutline(result: Json) {
  const r = asObject(result);
  return {
    accepted: r.accepted,
    rejected: r.rejected,
    records: (r.records as JsonObject[]).map((x) => x.index),
    errors: (r.errors as JsonObject[]).map((x) => [x.index, x.code]),
  };
}

describe('openapi.yaml as a document', () => {
  it('parses cleanly as OpenAPI 3.1', () => {
    expect(spec.problems).toEqual([]);
    expect(String(doc.openapi)).toMatch(/^3\.1\.\d+$/);
    expect(asObject(doc.info).title).toBeTruthy();
    expect(asObject(doc.info).version).toBeTruthy();
    expect(operations.length).toBeGreaterThan(0);
  });

  it('resolves every $ref', () => {
    const broken = collectRefs(doc).filter(({ ref }) => resolvePointer(doc, ref) === undefined);
    expect(broken).toEqual([]);
  });

  it('gives every operation a unique operationId, a known tag, a summary and a success response', () => {
    const problems: string[] = [];
    const ids = new Set<string>();
    const tags = new Set((doc.tags as JsonObject[]).map((t) => t.name));
    for (const op of operations) {
      const id = op.operation.operationId;
      if (typeof id !== 'string' || ids.has(id)) problems.push(`${opName(op)}: missing or repeated operationId`);
      ids.add(String(id));
      const opTags = op.operation.tags;
      if (!Array.isArray(opTags) || opTags.length === 0 || !opTags.every((t) => tags.has(t))) {
        problems.push(`${opName(op)}: no tag, or a tag not declared at the top`);
      }
      if (typeof op.operation.summary !== 'string') problems.push(`${opName(op)}: no summary`);
      const statuses = Object.keys(asObject(op.operation.responses));
      if (!statuses.some((s) => /^[23]\d\d$/.test(s))) problems.push(`${opName(op)}: no 2xx or 3xx response`);
      for (const s of statuses) {
        if (!/^[1-5]\d\d$/.test(s)) problems.push(`${opName(op)}: status ${s} is not a plain status code`);
        if (typeof asObject(responseOf(op, s)).description !== 'string') problems.push(`${opName(op)} ${s}: no description`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('declares each path template parameter exactly once, as a required path parameter', () => {
    const problems: string[] = [];
    for (const op of operations) {
      const inTemplate = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const params = parametersOf(doc, op);
      const declared = params.filter((p) => p.in === 'path');
      for (const name of inTemplate) {
        const matching = declared.filter((p) => p.name === name);
        if (matching.length !== 1) problems.push(`${opName(op)}: path parameter ${name} declared ${matching.length} times`);
        else if (matching[0]!.required !== true) problems.push(`${opName(op)}: path parameter ${name} is not required`);
      }
      for (const p of declared) {
        if (!inTemplate.includes(String(p.name))) problems.push(`${opName(op)}: path parameter ${String(p.name)} is not in the path`);
      }
      const keys = params.map((p) => `${String(p.in)}:${String(p.name).toLowerCase()}`);
      if (new Set(keys).size !== keys.length) problems.push(`${opName(op)}: a parameter is declared twice`);
    }
    expect(problems).toEqual([]);
  });

  it('answers every error with the shared Error schema and shows each code in an example', () => {
    const problems: string[] = [];
    for (const op of operations) {
      for (const status of Object.keys(asObject(op.operation.responses))) {
        if (Number(status) < 400 || NOT_ERROR_MODEL.has(`${opName(op)} ${status}`)) continue;
        const response = responseOf(op, status)!;
        const media = asObject(asObject(response.content)['application/json']);
        if (asObject(media.schema).$ref !== '#/components/schemas/Error') {
          problems.push(`${opName(op)} ${status}: not the Error schema`);
        }
        const codes = errorCodesOf(doc, response);
        if (codes.length === 0) problems.push(`${opName(op)} ${status}: no example error code`);
        for (const code of codes) {
          if (!String(response.description).includes(code)) problems.push(`${opName(op)} ${status}: ${code} not explained in the description`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('has examples that match their schemas', () => {
    const problems: string[] = [];
    const checkMedia = (where: string, media: JsonObject) => {
      if (media.schema === undefined) return;
      for (const { name, value } of examplesOf(doc, media)) {
        problems.push(...checkSchema(doc, media.schema, value, `${where} example ${name}`));
      }
    };
    for (const op of operations) {
      const body = asObject(deref(doc, op.operation.requestBody));
      for (const [type, media] of Object.entries(asObject(body.content))) {
        // Text bodies (NDJSON) carry their example as a string; only JSON is checked.
        if (type === 'application/json') checkMedia(`${opName(op)} request ${type}`, asObject(media));
      }
      for (const status of Object.keys(asObject(op.operation.responses))) {
        const response = responseOf(op, status)!;
        for (const [type, media] of Object.entries(asObject(response.content))) {
          if (type.startsWith('application/json')) checkMedia(`${opName(op)} ${status} ${type}`, asObject(media));
        }
        for (const [name, header] of Object.entries(asObject(response.headers))) {
          const h = asObject(deref(doc, header));
          if (h.example !== undefined) problems.push(...checkSchema(doc, h.schema, h.example, `${opName(op)} ${status} header ${name}`));
        }
      }
      for (const p of parametersOf(doc, op)) {
        if (p.example !== undefined) problems.push(...checkSchema(doc, p.schema, p.example, `${opName(op)} parameter ${String(p.name)}`));
      }
    }
    expect(problems).toEqual([]);
    // The checker above skips keywords it does not know; make sure there are none.
    expect(unknownSchemaKeywords(doc)).toEqual([]);
  });

  it('says who may call each operation', () => {
    const schemes = asObject(asObject(doc.components).securitySchemes);
    expect(schemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(schemes.apiKeyBearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const problems: string[] = [];
    for (const op of operations) {
      const security = op.operation.security as JsonObject[] | undefined;
      const responses = asObject(op.operation.responses);
      if (!Array.isArray(security)) {
        problems.push(`${opName(op)}: no security (use [] for open routes)`);
        continue;
      }
      for (const requirement of security) {
        for (const name of Object.keys(requirement)) if (!(name in schemes)) problems.push(`${opName(op)}: unknown scheme ${name}`);
      }
      if (!op.path.startsWith('/v1/')) {
        // /metrics alone may ask for its own token (INTAKE_METRICS_TOKEN); it is open when unset.
        const expected = op.path === '/metrics' ? [{}, { metricsToken: [] }] : [];
        if (JSON.stringify(security) !== JSON.stringify(expected)) problems.push(`${opName(op)}: system routes take no credential`);
        if (op.path === '/metrics' && !responses['401']) problems.push(`${opName(op)}: 401 not documented`);
      } else if (op.path === '/v1/session') {
        // Signing in and out take no credential (the token is the body); reading the session takes its cookie.
        const expected = op.method === 'get' ? [{ sessionCookie: [] }] : [];
        if (JSON.stringify(security) !== JSON.stringify(expected)) problems.push(`${opName(op)}: the session routes' own security`);
      } else if (ADMIN_PATHS.has(op.path) || ADMIN_OPERATIONS.has(opName(op))) {
        if (JSON.stringify(security) !== JSON.stringify([{ adminToken: [] }])) problems.push(`${opName(op)}: admin token only`);
        if (!responses['401']) problems.push(`${opName(op)}: 401 not documented`);
      } else {
        // Any one of the listed scopes will do: each scope appears once per key header.
        const keyScopes = security.filter((s) => 'apiKey' in s).map((s) => asObject(s).apiKey as unknown);
        const expected = [
          ...keyScopes.flatMap((scopes) => [{ apiKey: scopes }, { apiKeyBearer: scopes }]),
          { adminToken: [] },
        ];
        const wellFormed = keyScopes.length > 0 && keyScopes.every((s) => Array.isArray(s) && s.length === 1);
        if (!wellFormed || JSON.stringify(security) !== JSON.stringify(expected)) {
          problems.push(`${opName(op)}: a key of the project (one scope per entry, either header) or the admin token`);
        }
        for (const status of ['401', '403', '404', '429']) if (!responses[status]) problems.push(`${opName(op)}: ${status} not documented`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents every error code the service can answer with, under its status', () => {
    const known = new Map<string, number>();
    for (const [name, factory] of Object.entries(errors)) {
      // Arrays stand in for every argument: they have .slice, .join and a string form.
      const error = (factory as (...args: unknown[]) => AppError)(['x'], ['x']);
      expect(error.code, name).toMatch(/^[a-z][a-z0-9_]*$/);
      known.set(error.code, error.status);
    }
    for (const type of ['entity.too.large', 'entity.parse.failed', 'encoding.unsupported', 'request.aborted', 'request.size.invalid']) {
      const error = toAppError({ type, limit: 1 });
      known.set(error.code, error.status);
    }
    // Codes raised in place rather than through a factory: `new AppError(400, 'code', ...)`
    // and status/code tables such as the multipart one, `[413, 'code']`.
    for (const { status, code } of appErrorLiterals()) known.set(code, status);
    const documented = new Map<string, Set<number>>();
    for (const op of operations) {
      for (const status of Object.keys(asObject(op.operation.responses))) {
        if (Number(status) < 400) continue;
        for (const code of errorCodesOf(doc, responseOf(op, status)!)) {
          documented.set(code, (documented.get(code) ?? new Set()).add(Number(status)));
        }
      }
    }
    // route_not_found belongs to no operation: it is shown among the component examples.
    const componentCodes = Object.values(asObject(asObject(doc.components).examples))
      .map((e) => asObject(asObject(asObject(e).value).error).code)
      .filter((c): c is string => typeof c === 'string');

    const missing = [...known.keys()].filter(
      (code) => !(code in UNREACHABLE_CODES) && !documented.has(code) && !componentCodes.includes(code),
    );
    expect(missing, 'codes the service sends that openapi.yaml never shows').toEqual([]);
    const wrong = [...documented].flatMap(([code, statuses]) =>
      [...statuses].filter((s) => known.get(code) !== s).map((s) => `${code} under ${s} (the service sends ${known.get(code)})`),
    );
    expect(wrong, 'codes shown under another status than the service sends, or unknown to it').toEqual([]);
  });
});

// Small limits so that the 413 answers are cheap to provoke.
const running = await startContractApp({
  INTAKE_MAX_BODY_BYTES: '4096',
  INTAKE_MAX_RECORDS_PER_REQUEST: '20',
  INTAKE_MAX_FILE_BYTES: '2048',
});
const served = servedRoutes(running.app);
const admin = { Authorization: `Bearer ${running.adminToken}` };

afterAll(async () => {
  await running.close();
});

let projectCounter = 0;
async function newProject(): Promise<string> {
  const id = `openapi-${process.pid}-${++projectCounter}`;
  const res = await request(running.app).post('/v1/projects').set(admin).send({ id, name: `OpenAPI contract ${projectCounter}` });
  expect(res.status, res.text).toBe(201);
  return id;
}

async function newKey(projectId: string, body: JsonObject = { name: 'contract' }): Promise<string> {
  const res = await request(running.app).post(`/v1/projects/${projectId}/keys`).set(admin).send(body);
  expect(res.status, res.text).toBe(201);
  return String(res.body.key);
}

describe('openapi.yaml and the routes the app serves', () => {
  it.each(served.routes.map(opName))('documents %s', (name) => {
    const [method, path] = name.split(' ') as [string, string];
    expect(findOperation(method, path), `${name} is served but not in openapi.yaml`).toBeDefined();
  });

  it.each(operations.map(opName))('serves %s', (name) => {
    const [method, path] = name.split(' ') as [string, string];
    if (DOCS_PATHS.includes(path)) {
      expect(method).toBe('GET');
      expect(served.mounts, 'the docs are mounted at /docs').toContain(DOCS_MOUNT);
      return;
    }
    expect(served.routes.map(opName), `${name} is in openapi.yaml but the app does not serve it`).toContain(name);
  });

  it('holds nothing in its router but plain routes and the documented /docs mount', () => {
    expect(served.unreadable).toEqual([]);
    expect(served.mounts).toEqual([DOCS_MOUNT]);
  });

  it('serves this very file at /openapi.yaml', async () => {
    const res = await request(running.app).get('/openapi.yaml');
    expectDocumented('get', '/openapi.yaml', res, 200);
    expect(res.text).toBe(spec.text);
  });

  it('renders /docs from same-origin assets only, all of which load', async () => {
    const redirect = await request(running.app).get('/docs');
    expectDocumented('get', '/docs', redirect, 301);
    expect(redirect.headers.location).toBe('/docs/');

    const page = await request(running.app).get('/docs/');
    expectDocumented('get', '/docs/', page, 200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    // The CSP forbids inline scripts, so every script must come from a file.
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>/gi)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((attrs) => !/\bsrc=/.test(attrs))).toEqual([]);

    const refs = [...page.text.matchAll(/\b(?:src|href)=["']([^"']+)["']/gi)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    const origin = 'http://intake.invalid';
    for (const ref of refs) {
      const url = new URL(ref, `${origin}/docs/`);
      expect(url.origin, `${ref} is not same-origin`).toBe(origin);
      const asset = await request(running.app).get(url.pathname);
      expect(asset.status, `${ref} answered ${asset.status}`).toBe(200);
      expect(Number(asset.headers['content-length'] ?? asset.text?.length ?? 1), ref).toBeGreaterThan(0);
    }
    // The page is built from this document: the initialiser embeds it.
    const init = await request(running.app).get('/docs/swagger-ui-init.js');
    expect(init.status).toBe(200);
    for (const op of operations) expect(init.text, op.path).toContain(JSON.stringify(op.path));
  });

  it('answers the system routes as documented', async () => {
    expectDocumented('get', '/healthz', await request(running.app).get('/healthz'), 200);
    expectDocumented('get', '/readyz', await request(running.app).get('/readyz'), 200);
    const metrics = await request(running.app).get('/metrics');
    expectDocumented('get', '/metrics', metrics, 200);
    expect(metrics.text).toContain('intake_http_requests_total');
  });

  it('answers the project admin routes as documented', async () => {
    const app = running.app;
    const example = asObject(requestExample('post', '/v1/projects', 'application/json', 'example'));
    const id = `${String(example.id)}-${process.pid}`;
    const created = await request(app).post('/v1/projects').set(admin).send({ ...example, id });
    expectDocumented('post', '/v1/projects', created, 201);
    expect(created.headers.location).toBe(`/v1/projects/${id}`);
    expect(created.body).toMatchObject({ id, name: example.name, tableName: `intake-${id}-records`, bucketName: `intake-${id}` });

    const cases: [JsonObject | string, Record<string, string>, number, string][] = [
      [{ ...example, id }, admin, 409, 'project_exists'],
      [{ id: 'Not A Slug', name: 'x' }, admin, 400, 'invalid_project_id'],
      [{ id: 'abc', name: ' ', owner: 'me' }, admin, 400, 'validation_failed'],
      ['{"id":', { ...admin, 'Content-Type': 'application/json' }, 400, 'malformed_json'],
      ['id=abc', { ...admin, 'Content-Type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      [{ id: 'abcd', name: 'x' }, {}, 401, 'unauthenticated'],
      [{ id: 'abcd', name: 'x'.repeat(70 * 1024) }, admin, 413, 'payload_too_large'],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await request(app).post('/v1/projects').set(headers).send(body);
      expectDocumented('post', '/v1/projects', res, status);
      expect(res.body.error.code).toBe(code);
    }

    await newProject();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await request(app)
        .get('/v1/projects')
        .query(cursor === null ? { limit: '1' } : { limit: '1', cursor })
        .set(admin);
      expectDocumented('get', '/v1/projects', res, 200);
      seen.push(...(res.body.items as { id: string }[]).map((p) => p.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toContain(id);
    expect(seen).toEqual([...seen].sort());

    for (const [query, code] of [
      ['limit=0', 'invalid_limit'],
      ['limit=1001', 'invalid_limit'],
      ['limit=ten', 'invalid_limit'],
      ['cursor=forged.cursor', 'invalid_cursor'],
    ]) {
      const res = await request(app).get(`/v1/projects?${query}`).set(admin);
      expectDocumented('get', '/v1/projects', res, 400);
      expect(res.body.error.code).toBe(code);
    }
    expectDocumented('get', '/v1/projects/{projectId}', await request(app).get(`/v1/projects/${id}`).set(admin), 200);
    expectDocumented('get', '/v1/projects/{projectId}', await request(app).get('/v1/projects/no-such-project').set(admin), 404);
    expectDocumented('get', '/v1/projects/{projectId}', await request(app).get(`/v1/projects/${id}`), 401);
  });

  it('answers the key admin routes as documented', async () => {
    const app = running.app;
    const projectId = await newProject();
    const keysPath = `/v1/projects/${projectId}/keys`;
    const minimal = requestExample('post', '/v1/projects/{projectId}/keys', 'application/json', 'minimal');
    const first = await request(app).post(keysPath).set(admin).send(minimal as JsonObject);
    expectDocumented('post', '/v1/projects/{projectId}/keys', first, 201);
    expect(first.headers.location).toBe(`${keysPath}/${first.body.id}`);
    expect(first.body).toMatchObject({ scopes: ['records:write', 'records:read', 'files:write'], allowedIps: [], status: 'active' });

    const restricted = asObject(requestExample('post', '/v1/projects/{projectId}/keys', 'application/json', 'restricted'));
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const second = await request(app).post(keysPath).set(admin).send({ ...restricted, expiresAt });
    expectDocumented('post', '/v1/projects/{projectId}/keys', second, 201);
    expect(second.body).toMatchObject({ ...restricted, expiresAt });

    const invalid = asObject(
      asObject(responseExample('post', '/v1/projects/{projectId}/keys', '400', 'validation_failed')).error,
    );
    const bad = await request(app)
      .post(keysPath)
      .set(admin)
      .send({ name: 'x', scopes: ['nope'], allowedIps: ['not-an-ip'], expiresAt: '2001-01-01T00:00:00Z' });
    expectDocumented('post', '/v1/projects/{projectId}/keys', bad, 400);
    expect((bad.body.error.details as JsonObject[]).map((d) => d.path)).toEqual(
      (invalid.details as JsonObject[]).map((d) => d.path),
    );
    expectDocumented('post', '/v1/projects/{projectId}/keys', await request(app).post('/v1/projects/no-such-project/keys').set(admin).send({ name: 'x' }), 404);

    const list = await request(app).get(keysPath).set(admin);
    expectDocumented('get', '/v1/projects/{projectId}/keys', list, 200);
    expect((list.body.items as JsonObject[]).map((k) => k.id)).toEqual([first.body.id, second.body.id]);
    expect(JSON.stringify(list.body)).not.toContain(String(first.body.key));

    const revokePath = '/v1/projects/{projectId}/keys/{keyId}';
    const revoked = await request(app).delete(`${keysPath}/${first.body.id}`).set(admin);
    expectDocumented('delete', revokePath, revoked, 200);
    expect(revoked.body.status).toBe('revoked');
    const again = await request(app).delete(`${keysPath}/${first.body.id}`).set(admin);
    expectDocumented('delete', revokePath, again, 200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const other = await newProject();
    for (const path of [`${keysPath}/aaaaaaaaaaaaaaaa`, `/v1/projects/${other}/keys/${second.body.id}`, `/v1/projects/no-such-project/keys/${second.body.id}`]) {
      expectDocumented('delete', revokePath, await request(app).delete(path).set(admin), 404);
    }
    // API keys are not admin credentials.
    const asKey = await request(app).get(keysPath).set('Authorization', `Bearer ${second.body.key}`);
    expectDocumented('get', '/v1/projects/{projectId}/keys', asKey, 401);
  });

  it('pushes records as the examples show', async () => {
    const app = running.app;
    const projectId = await newProject();
    const key = await newKey(projectId);
    const path = '/v1/projects/{projectId}/records';
    const url = `/v1/projects/${projectId}/records`;

    const many = await request(app).post(url).set('X-API-Key', key).send(requestExample('post', path, 'application/json', 'many') as Json[]);
    expectDocumented('post', path, many, 200);
    expect(pushOutline(many.body)).toEqual(pushOutline(responseExample('post', path, '200', 'json')));

    const ndjson = requestExample('post', path, 'application/x-ndjson', 'example');
    const lines = await request(app).post(url).set('X-API-Key', key).set('Content-Type', 'application/x-ndjson').send(String(ndjson));
    expectDocumented('post', path, lines, 200);
    expect(pushOutline(lines.body)).toEqual(pushOutline(responseExample('post', path, '200', 'ndjson')));

    const empty = await request(app).post(url).set('Authorization', `Bearer ${key}`).send([]);
    expectDocumented('post', path, empty, 200);
    expect(empty.body).toEqual(responseExample('post', path, '200', 'empty'));

    const cases: [string | Buffer, Record<string, string>, number, string][] = [
      ['', { 'Content-Type': 'application/json' }, 400, 'invalid_body'],
      ['"just a string"', { 'Content-Type': 'application/json' }, 400, 'invalid_body'],
      ['{"a":', { 'Content-Type': 'application/json' }, 400, 'malformed_json'],
      [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), { 'Content-Type': 'application/json' }, 400, 'invalid_utf8'],
      ['{}', { 'Content-Type': 'application/json', 'Idempotency-Key': 'k'.repeat(256) }, 400, 'validation_failed'],
      ['a,b\n1,2\n', { 'Content-Type': 'text/csv' }, 415, 'unsupported_media_type'],
      ['{}', { 'Content-Type': 'application/json; charset=iso-8859-1' }, 415, 'unsupported_media_type'],
      ['{}', { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' }, 415, 'unsupported_encoding'],
      [JSON.stringify(Array.from({ length: 21 }, () => ({}))), { 'Content-Type': 'application/json' }, 413, 'too_many_records'],
      [JSON.stringify({ pad: 'x'.repeat(5000) }), { 'Content-Type': 'application/json' }, 413, 'payload_too_large'],
    ];
    for (const [body, headers, status, code] of cases) {
      const req = request(app).post(url).set('X-API-Key', key).set(headers);
      // Bytes go out as they are, not as the JSON form of a Buffer (superagent writes
      // whatever the serializer returns; its typings only admit strings).
      const asIs = (x: Buffer) => x as unknown as string;
      const res = await (Buffer.isBuffer(body) ? req.serialize(asIs) : req).send(body);
      expectDocumented('post', path, res, status);
      expect(res.body.error.code, JSON.stringify(headers)).toBe(code);
    }
    const list = await request(app).get(url).query({ limit: '1000' }).set('X-API-Key', key);
    expect(list.body.items).toHaveLength(3);
  });

  it('makes a push with an Idempotency-Key safe to retry', async () => {
    const app = running.app;
    const projectId = await newProject();
    const key = await newKey(projectId);
    const path = '/v1/projects/{projectId}/records';
    const url = `/v1/projects/${projectId}/records`;
    const one = asObject(requestExample('post', path, 'application/json', 'one'));
    const headers = { 'X-API-Key': key, 'Idempotency-Key': 'contract-retry-1' };

    const first = await request(app).post(url).set(headers).send(one);
    expectDocumented('post', path, first, 200);
    const retry = await request(app).post(url).set(headers).send(one);
    expectDocumented('post', path, retry, 200);
    expect(retry.body).toEqual(first.body);
    expect(first.body.records[0].id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const changed = await request(app).post(url).set(headers).send({ ...one, plan: 'free' });
    expectDocumented('post', path, changed, 422);
    expect(changed.body.error.code).toBe('idempotency_key_reused');

    const list = await request(app).get(url).set('X-API-Key', key);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ id: first.body.records[0].id, data: one });
  });

  it('reads records back as documented', async () => {
    const app = running.app;
    const projectId = await newProject();
    const key = await newKey(projectId);
    const url = `/v1/projects/${projectId}/records`;
    const pushed = await request(app)
      .post(url)
      .set('X-API-Key', key)
      .send([{ n: 1, nested: { list: [true, null, 'ü'] } }, { n: 2 }, { n: 3 }]);
    expect(pushed.status).toBe(200);

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await request(app)
        .get(url)
        .query(cursor === null ? { limit: '2' } : { limit: '2', cursor })
        .set('X-API-Key', key);
      expectDocumented('get', '/v1/projects/{projectId}/records', res, 200);
      ids.push(...(res.body.items as { id: string }[]).map((r) => r.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    expect([...ids].sort()).toEqual((pushed.body.records as { id: string }[]).map((r) => r.id).sort());

    const one = await request(app).get(`${url}/${ids[0]}`).set('X-API-Key', key);
    expectDocumented('get', '/v1/projects/{projectId}/records/{recordId}', one, 200);
    expect(one.body.source).toMatchObject({ type: 'api' });
    const missing = await request(app).get(`${url}/01ARZ3NDEKTSV4RRFFQ69G5FAV`).set('X-API-Key', key);
    expectDocumented('get', '/v1/projects/{projectId}/records/{recordId}', missing, 404);
    expect(missing.body.error.code).toBe('record_not_found');

    const other = await newProject();
    const foreign = await request(app).get(url).query({ cursor: 'x.y' }).set(admin);
    expectDocumented('get', '/v1/projects/{projectId}/records', foreign, 400);
    const first = await request(app).get(url).query({ limit: '1' }).set(admin);
    const crossed = await request(app).get(`/v1/projects/${other}/records`).query({ cursor: String(first.body.nextCursor) }).set(admin);
    expectDocumented('get', '/v1/projects/{projectId}/records', crossed, 400);
    expect(crossed.body.error.code).toBe('invalid_cursor');
  });

  it('authenticates project routes as documented', async () => {
    const app = running.app;
    const projectId = await newProject();
    const other = await newProject();
    const path = '/v1/projects/{projectId}/records';
    const url = `/v1/projects/${projectId}/records`;
    const reader = await newKey(projectId, { name: 'reader', scopes: ['records:read'] });
    const fenced = await newKey(projectId, { name: 'fenced', allowedIps: ['203.0.113.0/24'] });
    const foreign = await newKey(other);

    const expectCode = async (res: Response, method: string, status: number, code: string) => {
      expectDocumented(method, path, res, status);
      expect(res.body.error.code).toBe(code);
    };
    await expectCode(await request(app).get(url), 'get', 401, 'unauthenticated');
    await expectCode(await request(app).get(url).set('X-API-Key', 'ik_not_a_key'), 'get', 401, 'unauthenticated');
    await expectCode(await request(app).get(url).set('X-API-Key', foreign), 'get', 403, 'key_not_for_project');
    await expectCode(await request(app).get('/v1/projects/no-such-project/records').set('X-API-Key', foreign), 'get', 403, 'key_not_for_project');
    await expectCode(await request(app).get(url).set('X-API-Key', fenced), 'get', 403, 'ip_not_allowed');
    await expectCode(await request(app).post(url).set('X-API-Key', reader).send({ a: 1 }), 'post', 403, 'insufficient_scope');
    await expectCode(await request(app).get('/v1/projects/no-such-project/records').set(admin), 'get', 404, 'project_not_found');

    expectDocumented('get', path, await request(app).get(url).set('X-API-Key', reader), 200);
    expectDocumented('get', path, await request(app).get(url).set('Authorization', `Bearer ${reader}`), 200);
    expectDocumented('get', path, await request(app).get(url).set('X-API-Key', running.adminToken), 200);

    const keys = await request(app).get(`/v1/projects/${projectId}/keys`).set(admin);
    const readerId = (keys.body.items as JsonObject[]).find((k) => k.name === 'reader')!.id;
    await request(app).delete(`/v1/projects/${projectId}/keys/${String(readerId)}`).set(admin).expect(200);
    await expectCode(await request(app).get(url).set('X-API-Key', reader), 'get', 401, 'unauthenticated');
  });

  it('answers unknown routes with route_not_found', async () => {
    for (const [method, url] of [
      ['patch', '/v1/projects'],
      ['get', '/v2/projects'],
      ['get', '/v1/projects/a/b/c/d'],
    ] as const) {
      const res = await request(running.app)[method](url).set(admin);
      expect(res.status).toBe(404);
      expect(checkSchema(doc, { $ref: '#/components/schemas/Error' }, res.body as Json)).toEqual([]);
      expect(res.body.error.code).toBe('route_not_found');
    }
  });

  it('takes file uploads and reports their jobs as documented', async () => {
    const app = running.app;
    const projectId = await newProject();
    const uploader = await newKey(projectId, { name: 'uploader', scopes: ['files:write'] });
    const reader = await newKey(projectId, { name: 'reader', scopes: ['records:read'] });
    const base = `/v1/projects/${projectId}`;
    const rawPath = '/v1/projects/{projectId}/files/{fileName}';
    const formPath = '/v1/projects/{projectId}/files';
    const csv = 'email,plan\nada@example.com,pro\ngrace@example.com,free\n';

    const raw = await request(app).put(`${base}/files/customers.csv`).set('X-API-Key', uploader).set('Content-Type', 'text/csv').send(csv);
    expectDocumented('put', rawPath, raw, 202);
    expect(raw.body.bytes).toBe(Buffer.byteLength(csv));
    expect(raw.headers.location).toBe(`${base}/jobs/${raw.body.jobId}`);
    const tooBig = await request(app).put(`${base}/files/big.csv`).set('X-API-Key', uploader).send('x'.repeat(4096));
    expectDocumented('put', rawPath, tooBig, 413);
    expectDocumented('put', rawPath, await request(app).put(`${base}/files/a.csv`).set('X-API-Key', reader).send(csv), 403);

    const form = await request(app).post(`${base}/files`).set('X-API-Key', uploader).attach('file', Buffer.from(csv), 'more.csv');
    expectDocumented('post', formPath, form, 202);
    const formCases: [(r: request.Test) => request.Test, number, string][] = [
      [(r) => r.field('note', 'no file here'), 400, 'missing_file'],
      [(r) => r.attach('document', Buffer.from(csv), 'x.csv'), 400, 'unexpected_file_field'],
      [(r) => r.attach('file', Buffer.from(csv), 'x.csv').attach('file', Buffer.from(csv), 'y.csv'), 400, 'too_many_files'],
      [(r) => r.attach('file', Buffer.alloc(4096, 120), 'big.csv'), 413, 'payload_too_large'],
      [(r) => r.set('Content-Type', 'multipart/form-data').send('no boundary'), 400, 'invalid_multipart'],
      [(r) => r.set('Content-Type', 'text/csv').send(csv), 415, 'unsupported_media_type'],
    ];
    // Refused forms go to a project of their own: this test is about statuses and codes,
    // while what a refused upload leaves behind belongs to the upload tests.
    const refusals = await newProject();
    const refusalKey = await newKey(refusals, { name: 'uploader', scopes: ['files:write'] });
    for (const [build, status, code] of formCases) {
      const res = await build(request(app).post(`/v1/projects/${refusals}/files`).set('X-API-Key', refusalKey));
      expect(res.status, `${code}: ${res.text}`).toBe(status);
      expectDocumented('post', formPath, res, status);
      expect(res.body.error.code).toBe(code);
    }

    const job = await request(app).get(`${base}/jobs/${raw.body.jobId}`).set('X-API-Key', reader);
    expectDocumented('get', '/v1/projects/{projectId}/jobs/{jobId}', job, 200);
    expect(job.body).toMatchObject({ id: raw.body.jobId, fileId: raw.body.fileId, fileName: 'customers.csv', bytesTotal: raw.body.bytes });

    const jobs = await request(app).get(`${base}/jobs`).set('X-API-Key', reader);
    expectDocumented('get', '/v1/projects/{projectId}/jobs', jobs, 200);
    const listed = jobs.body.items as { id: string; createdAt: string }[];
    expect(listed.map((j) => j.id).sort()).toEqual([raw.body.jobId, form.body.jobId].sort());
    expect(listed.map((j) => j.createdAt)).toEqual(listed.map((j) => j.createdAt).sort().reverse());
    expectDocumented('get', '/v1/projects/{projectId}/jobs', await request(app).get(`${base}/jobs?limit=0`).set('X-API-Key', reader), 400);
    const missing = await request(app).get(`${base}/jobs/NOSUCHJOB`).set('X-API-Key', reader);
    expectDocumented('get', '/v1/projects/{projectId}/jobs/{jobId}', missing, 404);
    expect(missing.body.error.code).toBe('job_not_found');
  });
});
