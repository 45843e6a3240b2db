import { describe, expect, it } from 'vitest';
import { detectFormatFromContentType, detectFormatFromName } from '../../../src/ingest/parsers/index.js';
import { detectDelimiter } from '../../../src/ingest/parsers/csv-dialect.js';
import { sniffFormat } from '../../../src/ingest/parsers/detect-format.js';
import { openError, readText, streamOf } from './parser-test-kit.js';

describe('detectFormatFromName', () => {
  it.each([
    ['customers.csv', 'csv'],
    ['CUSTOMERS.CSV', 'csv'],
    ['export.csv.gz', 'csv'],
    ['a/b/export.tsv', 'tsv'],
    ['data.tab', 'tsv'],
    ['data.json', 'json'],
    ['data.json.gzip', 'json'],
    ['events.ndjson', 'ndjson'],
    ['events.jsonl.gz', 'ndjson'],
    ['feed.xml', 'xml'],
  ])('%s → %s', (name, format) => {
    expect(detectFormatFromName(name)).toBe(format);
  });

  it.each(['notes.txt', 'archive.gz', 'noext', '.csv', 'x.constructor', 'x.__proto__', '', undefined])(
    'knows nothing from %s',
    (name) => {
      expect(detectFormatFromName(name)).toBeUndefined();
    },
  );
});

describe('detectFormatFromContentType', () => {
  it.each([
    ['text/csv; charset=utf-8', 'csv'],
    ['text/tab-separated-values', 'tsv'],
    ['application/json', 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['application/jsonl', 'ndjson'],
    ['Application/XML', 'xml'],
    ['application/atom+xml', 'xml'],
  ])('%s → %s', (type, format) => {
    expect(detectFormatFromContentType(type)).toBe(format);
  });

  it.each(['text/plain', 'application/octet-stream', 'application/gzip', '', undefined])('knows nothing from %s', (type) => {
    expect(detectFormatFromContentType(type)).toBeUndefined();
  });
});

describe('format detection in openRecordFile', () => {
  it('prefers the name, then the content type, then the first bytes', async () => {
    expect((await readText('{"a":1}\n', { fileName: 'x.ndjson', contentType: 'application/json' })).file.format).toBe('ndjson');
    expect((await readText('[{"a":1}]', { fileName: 'upload.bin', contentType: 'application/json' })).file.format).toBe('json');
    expect((await readText('a;b\n1;2\n', { contentType: 'text/plain' })).file.format).toBe('csv');
  });

  it.each([
    ['[{"a":1}]', 'json'],
    ['  \n{"a":1}\n{"a":2}\n', 'ndjson'],
    ['{\n  "a": 1\n}\n', 'json'],
    ['<r><c/></r>', 'xml'],
    ['a,b\n1,2\n', 'csv'],
    ['a\tb\n1\t2\n', 'tsv'],
    ['a|b\n1|2\n', 'csv'],
  ])('sniffs %j as %s', async (content, format) => {
    const out = await readText(content);
    expect(out.file.format).toBe(format);
    expect(out.rejected).toEqual([]);
    expect(out.records.length).toBeGreaterThan(0);
  });

  it('sniffs a BOM-prefixed file', () => {
    expect(sniffFormat('\uFEFF[{"a":1}]')).toBe('json');
  });

  it('refuses text that looks like no supported format', async () => {
    expect((await openError(streamOf('just some words\nand more words\n'))).code).toBe('unsupported_format');
  });

  it('refuses binary content whatever the name says', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    const zip = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64, 0), Buffer.from('customers.csv')]);
    for (const [bytes, name] of [
      [png, 'photo.png'],
      [png, 'customers.csv'],
      [zip, 'customers.zip'],
      [zip, undefined],
    ] as const) {
      const error = await openError(streamOf(bytes), name ? { fileName: name } : {});
      expect(error.code).toBe('unsupported_format');
    }
  });

  it.each([
    ['0 bytes', Buffer.alloc(0)],
    ['only whitespace', Buffer.from('  \r\n\t\n ')],
    ['only a BOM', Buffer.from([0xef, 0xbb, 0xbf])],
    ['a BOM and newlines', Buffer.from('\uFEFF\n\n')],
  ])('rejects an empty file (%s) with empty_file', async (_name, bytes) => {
    expect((await openError(streamOf(bytes), { fileName: 'x.csv' })).code).toBe('empty_file');
  });

  it('rejects a file made of nothing but blank lines past the sample window', async () => {
    const blank = Buffer.alloc(200 * 1024, 0x0a);
    expect((await openError(streamOf(blank), { fileName: 'x.csv' })).code).toBe('empty_file');
  });

  it('finds content after a long run of leading whitespace', async () => {
    const out = await readText(`${'\n'.repeat(100_000)}a,b\n1,2\n`);
    expect(out.file.format).toBe('csv');
    expect(out.records).toEqual([{ a: '1', b: '2' }]);
  });

  it('validates its limits', async () => {
    await expect(readText('a,b\n', { maxRecordBytes: 0 })).rejects.toThrow(RangeError);
  });
});

describe('detectDelimiter', () => {
  it.each([
    ['a,b,c\n1,2,3\n', ','],
    ['a;b;c\n1;2,5;3\n4;5,0;6\n', ';'],
    ['a|b\n1|2\n', '|'],
    ['a\tb\n1\t2', '\t'],
    ['"x;y",b\n"1;2",3\n', ','],
    ['single\nvalue\n', ','],
    ['\n\na;b\n1;2\n', ';'],
  ])('%j → %j', (sample, delimiter) => {
    expect(detectDelimiter(sample, true)).toBe(delimiter);
  });

  it('prefers the delimiter that is consistent across lines', () => {
    // Commas inside names are inconsistent; semicolons are not.
    expect(detectDelimiter('name;city\nDoe, John;Paris\nRoe;Rome, Italy, EU\n', true)).toBe(';');
  });
});
