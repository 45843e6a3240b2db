import { isUtf8 } from 'node:buffer';
import { XMLParser, type X2jOptions } from 'fast-xml-parser';
import { DEFAULT_MAX_RECORD_DEPTH, tooDeepRow } from './depth-guard.js';
import type { TextState } from './text-encoding.js';
import type { ParsedRow } from './types.js';
import { XmlElementScanner, type XmlElementChunk } from './xml-scanner.js';

export interface XmlRowOptions {
  maxRecordBytes: number;
  /** Element nesting allowed in one record; a deeper record is rejected alone (too_deep). */
  maxDepth?: number;
  text: TextState;
  notices: string[];
}

/** Attributes become fields named `@name`: an XML name cannot start with "@", so they never collide with child elements. */
export const XML_ATTRIBUTE_PREFIX = '@';
/** Text of an element that also has attributes or children. */
export const XML_TEXT_FIELD = '#text';

// fast-xml-parser refuses (or renames) element names that could pollute
// prototypes. They are legitimate field names here: they are escaped with a
// character no XML name may contain before the parser sees them, and restored
// when the JSON text is written, where they are plain keys.
const ESCAPE = '\u0000';
const GUARDED_NAMES = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toString',
  'toLocaleString',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

const PREDEFINED_ENTITIES = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
]);

function resolveEntity(name: string): string | undefined {
  if (name.charCodeAt(0) !== 0x23) return PREDEFINED_ENTITIES.get(name);
  const hex = name[1] === 'x' || name[1] === 'X';
  const digits = name.slice(hex ? 2 : 1);
  if (digits.length === 0 || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return undefined;
  const code = Number.parseInt(digits, hex ? 16 : 10);
  if (code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
  return String.fromCodePoint(code);
}

/**
 * Only the five predefined entities and character references (&#233; &#xE9;)
 * are decoded; anything else stays as written. No DTD ever reaches the parser,
 * so no entity is ever defined by the file and nothing is fetched or expanded.
 */
export function decodeXmlEntities(text: string): string {
  let i = text.indexOf('&');
  if (i === -1) return text;
  let out = '';
  let last = 0;
  while (i !== -1) {
    const semicolon = text.indexOf(';', i + 1);
    const replacement = semicolon !== -1 && semicolon - i <= 12 ? resolveEntity(text.slice(i + 1, semicolon)) : undefined;
    if (replacement === undefined) {
      i = text.indexOf('&', i + 1);
      continue;
    }
    out += text.slice(last, i) + replacement;
    last = semicolon + 1;
    i = text.indexOf('&', last);
  }
  return out + text.slice(last);
}

const XML_OPTIONS: X2jOptions = {
  ignoreAttributes: false,
  attributeNamePrefix: XML_ATTRIBUTE_PREFIX,
  textNodeName: XML_TEXT_FIELD,
  // Text and attribute values stay strings exactly as written (leading zeros...);
  // only the whitespace around them (indentation) is trimmed.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  entityDecoder: {
    setExternalEntities: () => undefined,
    addInputEntities: () => undefined,
    reset: () => undefined,
    setXmlVersion: () => undefined,
    decode: decodeXmlEntities,
  },
  transformTagName: (name) => (GUARDED_NAMES.has(name) ? ESCAPE + name : name),
  // No option here reads an element's path, and building the path text for every value
  // and attribute was ~7% of the server's thread on XML ingests.
  jPath: false,
};

function unescapeName(key: string): string {
  return key.charCodeAt(0) === 0 ? key.slice(1) : key;
}

/** JSON text of the parser's output, restoring escaped names; keys are only ever written as text. */
function toJsonText(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = value as Record<string, unknown>;
    let json = '{';
    for (const key of Object.keys(fields)) {
      if (json.length > 1) json += ',';
      json += JSON.stringify(unescapeName(key)) + ':' + toJsonText(fields[key]);
    }
    return json + '}';
  }
  return JSON.stringify(value ?? null);
}

function elementToRow(row: number, element: XmlElementChunk, parser: XMLParser, text: TextState, maxDepth: number): ParsedRow {
  const where = `element ${row} <${element.name}>`;
  if (element.tooDeep === true) return tooDeepRow(row, where, maxDepth);
  if (text.invalidUtf8Seen && !isUtf8(element.bytes)) {
    return { row, ok: false, code: 'invalid_encoding', message: `${where} holds bytes that are not valid UTF-8` };
  }
  let document: Record<string, unknown>;
  try {
    document = parser.parse(element.bytes.toString('utf8'), true) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { row, ok: false, code: 'invalid_xml', message: `${where} is not well-formed XML: ${reason}` };
  }
  const key = Object.keys(document)[0];
  const value = key === undefined ? '' : document[key];
  // An element with nothing but text becomes {"#text": ...}; an empty one, {}.
  if (typeof value === 'string') {
    return { row, ok: true, data: value === '' ? '{}' : `{${JSON.stringify(XML_TEXT_FIELD)}:${JSON.stringify(value)}}` };
  }
  return { row, ok: true, data: toJsonText(value) };
}

/**
 * Rows of an XML file: every child element of the root is one record, parsed
 * alone by fast-xml-parser (attributes as `@name`, child elements as fields,
 * repeated children as arrays). Record by record, so memory stays flat.
 */
export async function* parseXmlRows(chunks: AsyncIterable<Buffer>, opts: XmlRowOptions): AsyncGenerator<ParsedRow> {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_RECORD_DEPTH;
  const scanner = new XmlElementScanner(opts.maxRecordBytes, maxDepth);
  const parser = new XMLParser(XML_OPTIONS);
  const elements: XmlElementChunk[] = [];
  const names = new Set<string>();
  let row = 0;
  let failure: unknown;
  let strayTextNoted = false;
  const drain = function* (): Generator<ParsedRow> {
    for (const element of elements) {
      row++;
      if (names.size < 2 && !names.has(element.name)) {
        names.add(element.name);
        if (names.size === 2) {
          opts.notices.push(`the root element holds different child elements (${[...names].map((n) => `<${n}>`).join(', ')}...): each one is a record`);
        }
      }
      yield elementToRow(row, element, parser, opts.text, maxDepth);
    }
    elements.length = 0;
    if (scanner.strayText && !strayTextNoted) {
      strayTextNoted = true;
      opts.notices.push('text placed directly inside the root element, between records, was ignored');
    }
  };
  for await (const chunk of chunks) {
    try {
      scanner.push(chunk, elements);
    } catch (err) {
      failure = err;
    }
    yield* drain();
    if (failure !== undefined) throw failure;
  }
  try {
    scanner.end();
  } catch (err) {
    failure = err;
  }
  yield* drain();
  if (failure !== undefined) throw failure;
}
