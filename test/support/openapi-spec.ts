// Reading openapi.yaml for the contract tests: operations, $ref resolution, and a small
// JSON Schema checker for the subset of 2020-12 the document uses. A real validator is not
// among the dependencies, and this subset is small enough to check by hand.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface OpenApiDocument {
  text: string;
  doc: JsonObject;
  /** YAML errors and warnings, formatted; empty when the file is clean. */
  problems: string[];
}

export interface Operation {
  path: string;
  method: string;
  operation: JsonObject;
  pathItem: JsonObject;
}

export function loadOpenApi(file = OPENAPI_FILE): OpenApiDocument {
  const text = fs.readFileSync(file, 'utf8');
  const parsed = parseDocument(text, { uniqueKeys: true });
  const problems = [...parsed.errors, ...parsed.warnings].map((e) => e.message.split('\n')[0]!);
  return { text, doc: (parsed.toJS() ?? {}) as JsonObject, problems };
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function operationsOf(doc: JsonObject): Operation[] {
  const out: Operation[] = [];
  for (const [path, pathItem] of Object.entries(asObject(doc.paths))) {
    if (!isObject(pathItem)) continue;
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (isObject(operation)) out.push({ path, method, operation, pathItem });
    }
  }
  return out;
}

export function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

/** The value a local reference (`#/a/b`) points at, or undefined. */
export function resolvePointer(doc: JsonObject, ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node)) node = Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
    else return undefined;
  }
  return node;
}

/** Follows `$ref` until it reaches an object that is not a reference. */
export function deref(doc: JsonObject, value: Json | undefined): Json | undefined {
  let node = value;
  for (let hops = 0; isObject(node) && typeof node.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`reference cycle at ${node.$ref}`);
    node = resolvePointer(doc, node.$ref);
  }
  return node;
}

/** Every `$ref` in the document with where it was found. */
export function collectRefs(node: Json, at = '#'): { ref: string; at: string }[] {
  const out: { ref: string; at: string }[] = [];
  if (Array.isArray(node)) node.forEach((child, i) => out.push(...collectRefs(child, `${at}/${i}`)));
  else if (isObject(node)) {
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && typeof child === 'string') out.push({ ref: child, at });
      else out.push(...collectRefs(child, `${at}/${key}`));
    }
  }
  return out;
}

/** Parameters of an operation, path-level ones first, references resolved. */
export function parametersOf(doc: JsonObject, op: Operation): JsonObject[] {
  const raw = [
    ...(Array.isArray(op.pathItem.parameters) ? op.pathItem.parameters : []),
    ...(Array.isArray(op.operation.parameters) ? op.operation.parameters : []),
  ];
  return raw.map((p) => asObject(deref(doc, p)));
}

/** Example values of a media type object (`example` or every entry of `examples`). */
export function examplesOf(doc: JsonObject, media: JsonObject): { name: string; value: Json }[] {
  const out: { name: string; value: Json }[] = [];
  if (media.example !== undefined) out.push({ name: 'example', value: media.example });
  for (const [name, entry] of Object.entries(asObject(media.examples))) {
    const example = asObject(deref(doc, entry));
    if (example.value !== undefined) out.push({ name, value: example.value });
  }
  return out;
}

/** The error codes shown in a response's examples. */
export function errorCodesOf(doc: JsonObject, response: JsonObject): string[] {
  const media = asObject(asObject(response.content)['application/json']);
  return examplesOf(doc, media)
    .map((e) => asObject(asObject(e.value).error).code)
    .filter((code): code is string => typeof code === 'string');
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: Json, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/**
 * Checks `value` against `schema`; returns one message per violation (empty when valid).
 * Covers the keywords openapi.yaml uses; an unknown keyword is reported, so the checker
 * cannot silently pass a schema it does not understand.
 */
export function checkSchema(doc: JsonObject, schema: Json | undefined, value: Json, at = '$'): string[] {
  return new SchemaChecker(doc).check(schema, value, at).problems;
}

interface CheckResult {
  problems: string[];
  /** Property names some subschema evaluated, for unevaluatedProperties. */
  evaluated: Set<string>;
}

const ANNOTATIONS = new Set(['description', 'summary', 'title', 'example', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly']);
const ASSERTIONS = new Set([
  '$ref', 'type', 'const', 'enum', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum',
  'minItems', 'maxItems', 'uniqueItems', 'items', 'required', 'properties', 'additionalProperties',
  'allOf', 'anyOf', 'oneOf', 'unevaluatedProperties',
]);

/** Keywords in the document's schemas that checkSchema does not implement, with where they are. */
export function unknownSchemaKeywords(doc: JsonObject): string[] {
  const out: string[] = [];
  const visitSchema = (schema: Json | undefined, at: string) => {
    if (!isObject(schema)) return;
    for (const [key, value] of Object.entries(schema)) {
      if (!ANNOTATIONS.has(key) && !ASSERTIONS.has(key)) out.push(`${at}: ${key}`);
      if (key === 'properties') for (const [name, sub] of Object.entries(asObject(value))) visitSchema(sub, `${at}/properties/${name}`);
      if (key === 'items' || key === 'additionalProperties') visitSchema(value, `${at}/${key}`);
      if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
        value.forEach((sub, i) => visitSchema(sub, `${at}/${key}/${i}`));
      }
    }
  };
  // Every `schema` member anywhere (media types, parameters, headers) and every component schema.
  const visitTree = (node: Json, at: string) => {
    if (Array.isArray(node)) node.forEach((child, i) => visitTree(child, `${at}/${i}`));
    else if (isObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (key === 'schema') visitSchema(child, `${at}/schema`);
        else if (key !== 'examples' && key !== 'example') visitTree(child, `${at}/${key}`);
      }
    }
  };
  visitTree(doc, '#');
  for (const [name, schema] of Object.entries(asObject(asObject(doc.components).schemas))) {
    visitSchema(schema, `#/components/schemas/${name}`);
  }
  return out;
}

class SchemaChecker {
  constructor(private readonly doc: JsonObject) {}

  check(schemaIn: Json | undefined, value: Json, at: string): CheckResult {
    const problems: string[] = [];
    const evaluated = new Set<string>();
    if (schemaIn === undefined || schemaIn === true) return { problems, evaluated };
    if (schemaIn === false) return { problems: [`${at}: no value is allowed here`], evaluated };
    if (!isObject(schemaIn)) return { problems: [`${at}: schema is not an object`], evaluated };
    let schema = schemaIn;
    if (typeof schema.$ref === 'string') {
      const target = resolvePointer(this.doc, schema.$ref);
      if (target === undefined) return { problems: [`${at}: unresolved ${schema.$ref}`], evaluated };
      const inner = this.check(target, value, at);
      const { $ref: _ref, ...rest } = schema;
      schema = rest;
      problems.push(...inner.problems);
      inner.evaluated.forEach((k) => evaluated.add(k));
    }
    const add = (result: CheckResult) => {
      problems.push(...result.problems);
      result.evaluated.forEach((k) => evaluated.add(k));
    };

    for (const [keyword, arg] of Object.entries(schema)) {
      if (ANNOTATIONS.has(keyword)) continue;
      switch (keyword) {
        case 'type': {
          const types = Array.isArray(arg) ? (arg as string[]) : [arg as string];
          if (!types.some((t) => typeMatches(value, t))) problems.push(`${at}: expected ${types.join('|')}, got ${typeOf(value)}`);
          break;
        }
        case 'const':
          if (JSON.stringify(value) !== JSON.stringify(arg)) problems.push(`${at}: expected ${JSON.stringify(arg)}`);
          break;
        case 'enum':
          if (!(arg as Json[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) {
            problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(arg)}`);
          }
          break;
        case 'format':
          if (arg === 'date-time' && typeof value === 'string' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) {
            problems.push(`${at}: ${JSON.stringify(value)} is not a date-time`);
          }
          break;
        case 'pattern':
          if (typeof value === 'string' && !new RegExp(arg as string, 'u').test(value)) {
            problems.push(`${at}: ${JSON.stringify(value)} does not match ${String(arg)}`);
          }
          break;
        case 'minLength':
          if (typeof value === 'string' && [...value].length < (arg as number)) problems.push(`${at}: shorter than ${String(arg)}`);
          break;
        case 'maxLength':
          if (typeof value === 'string' && [...value].length > (arg as number)) problems.push(`${at}: longer than ${String(arg)}`);
          break;
        case 'minimum':
          if (typeof value === 'number' && value < (arg as number)) problems.push(`${at}: below ${String(arg)}`);
          break;
        case 'maximum':
          if (typeof value === 'number' && value > (arg as number)) problems.push(`${at}: above ${String(arg)}`);
          break;
        case 'minItems':
          if (Array.isArray(value) && value.length < (arg as number)) problems.push(`${at}: fewer than ${String(arg)} items`);
          break;
        case 'maxItems':
          if (Array.isArray(value) && value.length > (arg as number)) problems.push(`${at}: more than ${String(arg)} items`);
          break;
        case 'uniqueItems':
          if (arg === true && Array.isArray(value) && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
            problems.push(`${at}: items are not unique`);
          }
          break;
        case 'items':
          if (Array.isArray(value)) value.forEach((item, i) => problems.push(...this.check(arg, item, `${at}[${i}]`).problems));
          break;
        case 'required':
          if (isObject(value)) {
            for (const name of arg as string[]) if (!(name in value)) problems.push(`${at}: missing ${name}`);
          }
          break;
        case 'properties':
          if (isObject(value)) {
            for (const [name, sub] of Object.entries(asObject(arg))) {
              evaluated.add(name);
              if (name in value) problems.push(...this.check(sub, value[name]!, `${at}.${name}`).problems);
            }
          }
          break;
        case 'additionalProperties':
          if (isObject(value)) {
            const known = new Set(Object.keys(asObject(schema.properties)));
            for (const [name, child] of Object.entries(value)) {
              if (known.has(name)) continue;
              evaluated.add(name);
              if (arg === false) problems.push(`${at}: unexpected property ${name}`);
              else problems.push(...this.check(arg, child, `${at}.${name}`).problems);
            }
          }
          break;
        case 'allOf':
          for (const sub of arg as Json[]) add(this.check(sub, value, at));
          break;
        case 'anyOf':
        case 'oneOf': {
          const results = (arg as Json[]).map((sub) => this.check(sub, value, at));
          const passing = results.filter((r) => r.problems.length === 0);
          if (passing.length === 0) {
            problems.push(`${at}: matches none of ${keyword}: ${results.map((r) => r.problems.join('; ')).join(' | ')}`);
          } else if (keyword === 'oneOf' && passing.length > 1) {
            problems.push(`${at}: matches ${passing.length} branches of oneOf`);
          }
          passing.forEach((r) => r.evaluated.forEach((k) => evaluated.add(k)));
          break;
        }
        case 'unevaluatedProperties':
          break; // applied below, once every other keyword has been evaluated
        default:
          problems.push(`${at}: the checker does not know the keyword ${keyword}`);
      }
    }
    if (schema.unevaluatedProperties === false && isObject(value)) {
      for (const name of Object.keys(value)) if (!evaluated.has(name)) problems.push(`${at}: unexpected property ${name}`);
      Object.keys(value).forEach((k) => evaluated.add(k));
    }
    return { problems, evaluated };
  }
}
