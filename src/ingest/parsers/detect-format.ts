import type { FileFormat } from './types.js';

// Maps rather than object literals: a name like "x.constructor" must not find
// Object.prototype.constructor.
const FORMAT_BY_EXTENSION = new Map<string, FileFormat>([
  ['csv', 'csv'],
  ['tsv', 'tsv'],
  ['tab', 'tsv'],
  ['json', 'json'],
  ['ndjson', 'ndjson'],
  ['jsonl', 'ndjson'],
  ['xml', 'xml'],
]);

const FORMAT_BY_MEDIA_TYPE = new Map<string, FileFormat>([
  ['text/csv', 'csv'],
  ['application/csv', 'csv'],
  ['text/comma-separated-values', 'csv'],
  ['text/tab-separated-values', 'tsv'],
  ['application/json', 'json'],
  ['text/json', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['application/jsonl', 'ndjson'],
  ['application/x-jsonl', 'ndjson'],
  ['application/jsonlines', 'ndjson'],
  ['application/x-jsonlines', 'ndjson'],
  ['application/xml', 'xml'],
  ['text/xml', 'xml'],
]);

/**
 * Format implied by a file name's extension, ignoring a trailing `.gz`
 * (`customers.csv.gz` → csv). Undefined when the name says nothing.
 */
export function detectFormatFromName(name: string | undefined): FileFormat | undefined {
  if (!name) return undefined;
  let base = name.toLowerCase();
  const slash = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
  if (slash !== -1) base = base.slice(slash + 1);
  if (base.endsWith('.gz')) base = base.slice(0, -3);
  else if (base.endsWith('.gzip')) base = base.slice(0, -5);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return FORMAT_BY_EXTENSION.get(base.slice(dot + 1));
}

/** Format implied by a Content-Type header; generic types (text/plain, octet-stream) say nothing. */
export function detectFormatFromContentType(contentType: string | undefined): FileFormat | undefined {
  if (!contentType) return undefined;
  const semicolon = contentType.indexOf(';');
  const mediaType = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  const known = FORMAT_BY_MEDIA_TYPE.get(mediaType);
  if (known) return known;
  if (mediaType.endsWith('+xml')) return 'xml';
  if (mediaType.endsWith('+json')) return 'json';
  return undefined;
}

const SAMPLE_CHARS = 4096;

/**
 * Binary content (images, zip, xlsx, BOM-less UTF-16...) is refused whatever the
 * name says: a NUL or more than 5% C0 control characters in the sample.
 */
export function looksBinary(sample: string): boolean {
  const end = Math.min(sample.length, SAMPLE_CHARS);
  let controls = 0;
  for (let i = 0; i < end; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0) return true;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) controls++;
  }
  return controls * 20 > end;
}

export function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the first character that is not whitespace (or a BOM), or -1. */
export function firstContentIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isJsonWhitespace(c) && c !== 0xfeff && c !== 0x0c) return i;
  }
  return -1;
}

/**
 * Guess the format from the first characters of the decoded text. `{` means
 * NDJSON when the first line closes the object; otherwise it is one
 * (pretty-printed) JSON object. Text is CSV only if its first line holds one of
 * the candidate delimiters.
 */
export function sniffFormat(text: string): FileFormat | undefined {
  const start = firstContentIndex(text);
  if (start === -1) return undefined;
  const first = text[start];
  if (first === '[') return 'json';
  if (first === '<') return 'xml';
  const newline = text.indexOf('\n', start);
  const firstLine = text.slice(start, newline === -1 ? text.length : newline).trimEnd();
  if (first === '{') return newline === -1 || firstLine.endsWith('}') ? 'ndjson' : 'json';
  for (const delimiter of [',', ';', '\t', '|']) {
    if (firstLine.includes(delimiter)) return delimiter === '\t' ? 'tsv' : 'csv';
  }
  return undefined;
}
