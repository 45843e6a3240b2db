// Compares real answers of the app with what openapi.yaml promises for them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Response } from 'supertest';
import {
  asObject,
  checkSchema,
  deref,
  errorCodesOf,
  examplesOf,
  operationsOf,
  type Json,
  type JsonObject,
  type Operation,
} from './openapi-spec.js';

export const opName = (o: { method: string; path: string }) => `${o.method.toUpperCase()} ${o.path}`;

function mediaMatches(documented: string, actual: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, '');
  const base = (s: string) => norm(s).split(';')[0]!;
  if (documented === '*/*') return true;
  return documented.includes(';') ? norm(documented) === norm(actual) : base(documented) === base(actual);
}

export class OpenApiContract {
  readonly operations: Operation[];

  /** `notErrorModel`: "GET /readyz 503"-style keys of error statuses with a body of their own. */
  constructor(
    readonly doc: JsonObject,
    private readonly notErrorModel: ReadonlySet<string>,
  ) {
    this.operations = operationsOf(doc);
  }

  findOperation = (method: string, path: string): Operation | undefined =>
    this.operations.find((o) => o.method === method.toLowerCase() && o.path === path);

  responseOf = (op: Operation, status: string): JsonObject | undefined => {
    const raw = asObject(op.operation.responses)[status];
    return raw === undefined ? undefined : asObject(deref(this.doc, raw));
  };

  isErrorModel(op: Operation, status: string): boolean {
    return Number(status) >= 400 && !this.notErrorModel.has(`${opName(op)} ${status}`);
  }

  /**
   * Everything about a real answer that disagrees with the document: an undocumented
   * status, a missing documented header, a body that does not match the schema, an error
   * code the response does not list. Empty when the answer is as documented.
   */
  disagreements = (method: string, path: string, res: Response): string[] => {
    const op = this.findOperation(method, path);
    const seen = `${method.toUpperCase()} ${path} answered ${res.status} ${res.text?.slice(0, 200) ?? ''}`;
    if (!op) return [`${method.toUpperCase()} ${path} is not in openapi.yaml`];
    const response = this.responseOf(op, String(res.status));
    if (!response) return [`status ${res.status} is not documented: ${seen}`];
    const problems: string[] = [];
    if (!res.headers['x-request-id']) problems.push(`no X-Request-Id header: ${seen}`);
    for (const name of Object.keys(asObject(response.headers))) {
      // The RateLimit fields are informative; Retry-After, Location and the like are promised.
      if (res.headers[name.toLowerCase()] === undefined && !name.startsWith('RateLimit')) {
        problems.push(`documented header ${name} is missing: ${seen}`);
      }
    }
    const content = asObject(response.content);
    if (Object.keys(content).length === 0) return problems;
    const type = String(res.headers['content-type'] ?? '');
    const key = Object.keys(content).find((k) => mediaMatches(k, type));
    if (key === undefined) {
      return [...problems, `content type ${type} is not documented (${Object.keys(content).join(', ')}): ${seen}`];
    }
    if (!key.startsWith('application/json')) return problems;
    const body = JSON.parse(res.text) as Json;
    problems.push(...checkSchema(this.doc, asObject(content[key]).schema, body).map((p) => `${p} in ${seen}`));
    if (this.isErrorModel(op, String(res.status))) {
      const code = asObject(asObject(body).error).code;
      const listed = errorCodesOf(this.doc, response);
      if (typeof code !== 'string' || !listed.includes(code)) {
        problems.push(`error code ${String(code)} is not among the documented ${listed.join(', ')}: ${seen}`);
      }
    }
    return problems;
  };

  /** A documented request example, by operation, media type and example name. */
  requestExample = (method: string, path: string, media: string, name: string): Json => {
    const op = this.findOperation(method, path);
    const content = asObject(asObject(deref(this.doc, op?.operation.requestBody)).content);
    const found = examplesOf(this.doc, asObject(content[media])).find((e) => e.name === name);
    if (!found) throw new Error(`no request example ${name} for ${method} ${path} ${media}`);
    return found.value;
  };

  /** A documented JSON response example, by operation, status and example name. */
  responseExample = (method: string, path: string, status: string, name: string): Json => {
    const op = this.findOperation(method, path);
    const response = op ? this.responseOf(op, status) : undefined;
    const media = asObject(asObject(response?.content)['application/json']);
    const found = examplesOf(this.doc, media).find((e) => e.name === name);
    if (!found) throw new Error(`no response example ${name} for ${method} ${path} ${status}`);
    return found.value;
  };
}

/**
 * `(status, code)` pairs written as literals anywhere under src/: `new AppError(400, 'code'`
 * and status/code tables such as the multipart one, `[413, 'code']`. Together with the
 * named factories in src/errors.ts these are every code the service can send.
 */
export function appErrorLiterals(): { status: number; code: string; file: string }[] {
  const root = fileURLToPath(new URL('../../src/', import.meta.url));
  const out: { status: number; code: string; file: string }[] = [];
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:AppError\(|\[)\s*([45]\d\d)\s*,\s*'([a-z][a-z0-9_]*)'/g)) {
      out.push({ status: Number(m[1]), code: m[2]!, file });
    }
  }
  return out;
}
