import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readAll } from './parser-test-kit.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/files/${name}`, import.meta.url));

async function readFixture(name: string) {
  return readAll(createReadStream(fixture(name), { highWaterMark: 16 }), { fileName: name });
}

describe('fixture files read from disk', () => {
  it('reads an Excel-style Windows-1252 semicolon CSV with CRLF and a quoted line break', async () => {
    const out = await readFixture('customers-windows-1252.csv');
    expect(out.file).toMatchObject({ format: 'csv', encoding: 'windows-1252', compressed: false });
    expect(out.file.notices).toContain('delimiter detected: ";"');
    expect(out.records).toEqual([
      {
        Kundennummer: '00017',
        Name: 'José Müller',
        Stadt: 'Zürich',
        Umsatz: '1.234,50 €',
        Bemerkung: 'Stammkunde; bevorzugt\r\nPost',
      },
      { Kundennummer: '00018', Name: 'Françoise Øster', Stadt: 'Malmö', Umsatz: '99,00 €', Bemerkung: '' },
    ]);
  });

  it('reads a UTF-16 LE TSV with a BOM', async () => {
    const out = await readFixture('customers-utf16le.tsv');
    expect(out.file).toMatchObject({ format: 'tsv', encoding: 'utf-16le' });
    expect(out.records).toEqual([
      { id: '1', name: 'Łukasz', city: 'Kraków' },
      { id: '2', name: '山田', city: '東京' },
    ]);
  });

  it('reads a gzipped XML feed', async () => {
    const out = await readFixture('customers.xml.gz');
    expect(out.file).toMatchObject({ format: 'xml', compressed: true, encoding: 'utf-8' });
    expect(out.records).toEqual([
      { '@id': '0001', '@status': 'active', name: 'Ada Lovelace', address: { city: 'London', zip: '0123' } },
      {
        '@id': '0002',
        name: 'Grace & Co',
        phone: [
          { '@type': 'work', '#text': '+1 555 0100' },
          { '@type': 'home', '#text': '+1 555 0199' },
        ],
      },
    ]);
  });

  it('reads NDJSON with exact big numbers, a blank line and a broken line', async () => {
    const out = await readFixture('events.ndjson');
    expect(out.rows).toEqual([
      { row: 1, ok: true, data: '{"id":9007199254740993,"amount":12.3400,"ts":"2024-05-01T10:00:00Z"}' },
      { row: 2, ok: true, data: '{"id":9007199254740994,"amount":1e-7,"tags":["a","b"]}' },
      { row: 3, ok: false, code: 'invalid_json', message: expect.stringMatching(/^line 4 /) },
      { row: 4, ok: true, data: '{"id":9007199254740996,"amount":0}' },
    ]);
  });
});
