import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { openRecordFile } from '../../../src/ingest/parsers/index.js';
import { chunked, LIMITS, MiB, readAll, readText, streamOf } from './parser-test-kit.js';

describe('CSV parsing', () => {
  it('keeps every cell a string exactly as written', async () => {
    const out = await readText('id,phone,amount,flag\n007,+49 030 123,1.50,true\n', { fileName: 'c.csv' });
    expect(out.file.format).toBe('csv');
    expect(out.rows).toEqual([
      {
        row: 1,
        ok: true,
        data: '{"id":"007","phone":"+49 030 123","amount":"1.50","flag":"true"}',
        cells: { names: ['id', 'phone', 'amount', 'flag'], values: ['007', '+49 030 123', '1.50', 'true'] },
      },
    ]);
  });

  it('strips a UTF-8 BOM from the first header', async () => {
    const out = await readText('\uFEFFid,name\n1,Zoë\n', { fileName: 'c.csv' });
    expect(out.records).toEqual([{ id: '1', name: 'Zoë' }]);
    expect(out.file.encoding).toBe('utf-8');
    expect(out.file.notices.join(' ')).toMatch(/byte order mark/);
  });

  it('accepts CRLF, LF and mixed line endings', async () => {
    const out = await readText('a,b\r\n1,2\n3,4\r\n5,6\r7,8', { fileName: 'c.csv' });
    expect(out.records).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
      { a: '5', b: '6' },
      { a: '7', b: '8' },
    ]);
  });

  it('handles quoted commas, doubled quotes and newlines inside quotes', async () => {
    const csv = 'id,note\r\n1,"a, b"\r\n2,"say ""hi"""\r\n3,"line 1\r\nline 2\nline 3"\r\n4,plain\r\n';
    const out = await readText(csv, { fileName: 'c.csv' });
    expect(out.records).toEqual([
      { id: '1', note: 'a, b' },
      { id: '2', note: 'say "hi"' },
      { id: '3', note: 'line 1\r\nline 2\nline 3' },
      { id: '4', note: 'plain' },
    ]);
    expect(out.rows.map((r) => r.row)).toEqual([1, 2, 3, 4]);
  });

  it('gives the same result whatever the chunk boundaries', async () => {
    const csv = '\uFEFFid;name;note\r\n1;Zoë;"a;b"\r\n2;Jürgen;"x ""y"" z"\r\n3;ü;"multi\r\nline"\r\n';
    const whole = await readText(csv, { fileName: 'c.csv' });
    for (const size of [1, 2, 3, 7]) {
      const split = await readAll(chunked(csv, size), { fileName: 'c.csv' });
      expect(split.rows).toEqual(whole.rows);
    }
    expect(whole.records).toHaveLength(3);
  });

  it.each([
    ['semicolon', ';'],
    ['pipe', '|'],
    ['tab', '\t'],
  ])('detects a %s delimiter', async (_name, d) => {
    const csv = [`id${d}name${d}city`, `1${d}Ann, Jr.${d}Paris`, `2${d}Bob${d}Rome`].join('\n');
    const out = await readText(csv, { fileName: 'c.csv' });
    expect(out.records).toEqual([
      { id: '1', name: 'Ann, Jr.', city: 'Paris' },
      { id: '2', name: 'Bob', city: 'Rome' },
    ]);
  });

  it('ignores delimiters inside quotes when detecting', async () => {
    const out = await readText('"a,b";c\n"1,2";3\n', { fileName: 'c.csv' });
    expect(out.records).toEqual([{ 'a,b': '1,2', c: '3' }]);
  });

  it('uses tab for a .tsv file even when commas abound', async () => {
    const out = await readText('name\tnote\nAnn\ta, b, c\n', { fileName: 'people.tsv' });
    expect(out.file.format).toBe('tsv');
    expect(out.records).toEqual([{ name: 'Ann', note: 'a, b, c' }]);
  });

  it('trims headers, names empty ones column_N and makes duplicates distinct', async () => {
    const out = await readText(' id , email,, email ,name,email_2,\n1,a@x,b,c,d,e,f\n', { fileName: 'c.csv' });
    expect(JSON.parse((out.rows[0] as { data: string }).data)).toEqual({
      id: '1',
      email: 'a@x',
      column_3: 'b',
      email_3: 'c',
      name: 'd',
      email_2: 'e',
      column_7: 'f',
    });
    // Key order follows the columns.
    expect(Object.keys(out.records[0] as object)).toEqual(['id', 'email', 'column_3', 'email_3', 'name', 'email_2', 'column_7']);
    expect(out.file.notices).toContain('duplicate header "email" in column 4 renamed to "email_3"');
    expect(out.file.notices).toContain('empty header in column 3 named "column_3"');
  });

  it('rejects ragged rows one by one and keeps going', async () => {
    const out = await readText('a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n', { fileName: 'c.csv' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => [r.row, r.ok])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(out.rejected[0]).toMatchObject({ code: 'column_count_mismatch', message: expect.stringMatching(/expected 3 .* found 2/) });
    expect(out.rejected[1]).toMatchObject({ code: 'column_count_mismatch' });
  });

  it('rejects an unterminated quote at the end as the last row, keeping the rows before it', async () => {
    const out = await readText('id,note\n1,ok\n2,"never closed\n3,swallowed\n', { fileName: 'c.csv' });
    expect(out.error).toBeUndefined();
    expect(out.records).toEqual([{ id: '1', note: 'ok' }]);
    expect(out.rejected).toEqual([
      { row: 2, ok: false, code: 'unterminated_quote', message: expect.stringMatching(/never closed/) },
    ]);
  });

  it('keeps a stray quote inside an unquoted cell as text', async () => {
    const out = await readText('name,height\nBob "the builder",5\'11"\n', { fileName: 'c.csv' });
    expect(out.records).toEqual([{ name: 'Bob "the builder"', height: '5\'11"' }]);
  });

  it('yields no rows and no error for a header-only file', async () => {
    for (const csv of ['id,name', 'id,name\n', 'id,name\r\n\r\n']) {
      const out = await readText(csv, { fileName: 'c.csv' });
      expect(out.rows).toEqual([]);
      expect(out.error).toBeUndefined();
    }
  });

  it('skips blank lines without numbering them', async () => {
    const out = await readText('a,b\n\n1,2\n\n\n3,4\n\n', { fileName: 'c.csv' });
    expect(out.rows.map((r) => r.row)).toEqual([1, 2]);
  });

  it('decodes a Latin-1 / Windows-1252 export instead of storing mojibake', async () => {
    const bytes = iconv.encode('name,city,price\nJosé,Zürich,€5\nFrançoise,Malmö,£3\n', 'windows-1252');
    const out = await readAll(streamOf(bytes), { fileName: 'legacy.csv' });
    expect(out.file.encoding).toBe('windows-1252');
    expect(out.records).toEqual([
      { name: 'José', city: 'Zürich', price: '€5' },
      { name: 'Françoise', city: 'Malmö', price: '£3' },
    ]);
    expect(out.file.notices.join(' ')).toMatch(/windows-1252/);
  });

  it.each(['utf-16le', 'utf-16be'] as const)('decodes %s with a BOM', async (encoding) => {
    const bytes = iconv.encode('\uFEFFid;name\r\n1;Łukasz\r\n2;日本\r\n', encoding);
    const out = await readAll(chunked(bytes, 5), {});
    expect(out.file.encoding).toBe(encoding);
    expect(out.file.format).toBe('csv');
    expect(out.records).toEqual([
      { id: '1', name: 'Łukasz' },
      { id: '2', name: '日本' },
    ]);
  });

  it('rejects rows holding invalid UTF-8 found after a valid start, keeping the others', async () => {
    const good = `id,name\n${Array.from({ length: 5000 }, (_, i) => `${i},name-${i}-ü`).join('\n')}\n`;
    expect(Buffer.byteLength(good)).toBeGreaterThan(64 * 1024);
    const bad = Buffer.concat([Buffer.from('5000,caf'), Buffer.from([0xe9]), Buffer.from('\n5001,fine\n')]);
    const out = await readAll(streamOf(good, bad), { fileName: 'c.csv' });
    expect(out.file.encoding).toBe('utf-8');
    expect(out.rows).toHaveLength(5002);
    expect(out.rejected).toEqual([{ row: 5001, ok: false, code: 'invalid_encoding', message: expect.any(String) }]);
    expect(out.records.at(-1)).toEqual({ id: '5001', name: 'fine' });
    expect(out.file.notices.join(' ')).toMatch(/invalid UTF-8/);
  });

  it('keeps __proto__, constructor and prototype headers as plain data keys', async () => {
    const out = await readText('__proto__,constructor,prototype\n{"polluted":1},x,y\n', { fileName: 'c.csv' });
    const row = out.rows[0] as { data: string };
    expect(row.data).toBe('{"__proto__":"{\\"polluted\\":1}","constructor":"x","prototype":"y"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const parsed = JSON.parse(row.data) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'constructor', 'prototype']);
  });

  it('reads a single-column CSV when the name says CSV', async () => {
    const out = await readText('email\na@x.org\nb@y.org\n', { fileName: 'emails.csv' });
    expect(out.records).toEqual([{ email: 'a@x.org' }, { email: 'b@y.org' }]);
  });

  it('numbers rows identically on every read of the same file', async () => {
    const csv = 'a,b\n1,2\n\n3\n"4",5\n6,"7\n8"\n9,"x';
    const first = await readText(csv, { fileName: 'c.csv' });
    const second = await readAll(chunked(csv, 3), { fileName: 'c.csv' });
    expect(second.rows).toEqual(first.rows);
    expect(first.rows.map((r) => [r.row, r.ok ? 'ok' : r.code])).toEqual([
      [1, 'ok'],
      [2, 'column_count_mismatch'],
      [3, 'ok'],
      [4, 'ok'],
      [5, 'unterminated_quote'],
    ]);
  });

  it('yields the rows parsed before an oversized record in the same chunk, then fails the file', async () => {
    const out = await readAll(streamOf(`id,name\n1,a\n2,b\n3,${'x'.repeat(2 * MiB)}\n4,d\n`), { fileName: 'c.csv' });
    expect(out.records).toEqual([
      { id: '1', name: 'a' },
      { id: '2', name: 'b' },
    ]);
    expect(out.error).toMatchObject({ code: 'record_too_large', message: expect.stringMatching(/^row 3 /) });
  });

  it('fails the file at open when the header itself passes maxRecordBytes', async () => {
    await expect(readText(`${'h'.repeat(2 * MiB)},b\n1,2\n`, { fileName: 'c.csv' })).rejects.toMatchObject({
      code: 'record_too_large',
    });
  });

  it('serves next() calls that are not awaited one by one, in order', async () => {
    const file = await openRecordFile(streamOf('n\n1\n2\n', '3\n'), { ...LIMITS, fileName: 'c.csv' });
    const iterator = file.rows[Symbol.asyncIterator]();
    const results = await Promise.all([iterator.next(), iterator.next(), iterator.next(), iterator.next()]);
    expect(results.map((r) => (r.done ? 'done' : r.value.row))).toEqual([1, 2, 3, 'done']);
  });
});
