import { AppError } from '../errors.js';

export type ExportFormat = 'ndjson' | 'csv' | 'json';

const FORMATS: readonly ExportFormat[] = ['ndjson', 'csv', 'json'];
const MAX_FIELDS = 1000;

/** What a streamed export was asked for, checked before any byte is sent. */
export interface ExportRequest {
  format: ExportFormat;
  /** Data paths chosen by `fields`, each split at its dots; undefined for every field. */
  fields?: string[][];
  /** `gzip=true`: the body is a .gz file (Content-Type application/gzip), not a transfer encoding. */
  gzipFile: boolean;
  /** `Accept-Encoding: gzip`: the body is sent with Content-Encoding gzip. */
  gzipEncoding: boolean;
  bom: boolean;
  raw: boolean;
  /** `since`: only records written at or after this time (ISO, UTC). */
  since?: string;
}

export const exportErrors = {
  unknownFormat: (format: string) =>
    new AppError(400, 'unknown_format', `Unknown export format ${JSON.stringify(format.slice(0, 40))}; use ndjson, csv or json.`),
  invalidFields: (message: string) => new AppError(400, 'invalid_fields', message),
  invalidSince: () =>
    new AppError(400, 'invalid_since', 'since must be an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z.'),
};

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** `since=<ISO time>` as a UTC ISO string (the form records' write times are stored in). */
export function parseSince(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !ISO_DATE.test(raw)) throw exportErrors.invalidSince();
  const ms = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(ms)) throw exportErrors.invalidSince();
  const normalized = new Date(ms).toISOString();
  // Date.parse rolls 2026-02-30 over into March: a date that is not one is refused instead.
  if (normalized.slice(0, 10) !== raw.slice(0, 10) && !/[+-]\d{2}:\d{2}$/.test(raw)) throw exportErrors.invalidSince();
  return normalized;
}

function booleanParam(name: string, raw: unknown): boolean {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new AppError(400, 'validation_failed', `${name} must be true or false.`);
}

/** `fields=a,b.c`: a comma-separated list of dot paths, none empty, no empty segment (`a..b`). */
export function parseFieldPaths(raw: unknown): string[][] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw exportErrors.invalidFields('fields must be given once, as a comma-separated list of paths.');
  const names = raw.split(',');
  if (names.length > MAX_FIELDS) throw exportErrors.invalidFields(`fields takes at most ${MAX_FIELDS} paths.`);
  const seen = new Set<string>();
  const paths: string[][] = [];
  for (const name of names) {
    const segments = name.split('.');
    if (segments.some((segment) => segment.trim().length === 0)) {
      throw exportErrors.invalidFields(`fields has an empty path or an empty path segment: ${JSON.stringify(name.slice(0, 100))}.`);
    }
    if (seen.has(name)) continue;
    seen.add(name);
    paths.push(segments);
  }
  return paths;
}

/** True when the client accepts gzip (an explicit `gzip;q=0` refuses it). */
function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

export function parseExportRequest(query: Record<string, unknown>, acceptEncoding: string | undefined): ExportRequest {
  const format = query.format ?? 'ndjson';
  if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) {
    throw exportErrors.unknownFormat(typeof format === 'string' ? format : String(format));
  }
  const gzipFile = booleanParam('gzip', query.gzip);
  if (format !== 'csv' && (query.bom !== undefined || query.raw !== undefined)) {
    throw new AppError(400, 'validation_failed', 'bom and raw apply to format=csv only.');
  }
  return {
    format: format as ExportFormat,
    fields: parseFieldPaths(query.fields),
    gzipFile,
    gzipEncoding: !gzipFile && acceptsGzip(acceptEncoding),
    bom: booleanParam('bom', query.bom),
    raw: booleanParam('raw', query.raw),
    since: parseSince(query.since),
  };
}
