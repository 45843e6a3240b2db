import { describe, expect, it } from 'vitest';
import { chunked, MiB, readAll, readText, streamOf } from './parser-test-kit.js';

describe('NDJSON parsing', () => {
  it('keeps big integers and long decimals exactly', async () => {
    const line = '{"id":123456789012345678901234567890,"amount":0.1000000000000000055511151231257827,"n":1.10,"e":1e400,"neg":-0}';
    const out = await readText(`${line}\n`, { fileName: 'x.ndjson' });
    expect(out.rows).toEqual([{ row: 1, ok: true, data: line }]);
  });

  it('keeps types: strings, booleans, null, nested objects and arrays, any Unicode', async () => {
    const out = await readText('{"s":"Zoë 🎉 \\u00e9","b":true,"z":null,"o":{"a":[1,{"b":"c"}]}}\n', { fileName: 'x.jsonl' });
    expect(out.file.format).toBe('ndjson');
    expect(out.records).toEqual([{ s: 'Zoë 🎉 é', b: true, z: null, o: { a: [1, { b: 'c' }] } }]);
  });

  it('rejects a malformed line in the middle and keeps going', async () => {
    const out = await readText('{"a":1}\n{"a":2,}\n{"a":3}\n', { fileName: 'x.ndjson' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => [r.row, r.ok ? 'ok' : r.code])).toEqual([
      [1, 'ok'],
      [2, 'invalid_json'],
      [3, 'ok'],
    ]);
    expect(out.rejected[0]!.message).toMatch(/^line 2 /);
  });

  it('rejects valid JSON that is not an object', async () => {
    const out = await readText('[1,2]\n42\n"text"\nnull\ntrue\n{"ok":1}\n', { fileName: 'x.ndjson' });
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'ok',
    ]);
    expect(out.rejected[1]!.message).toMatch(/a number/);
  });

  it('skips blank lines: rows are numbered among non-blank lines, messages quote the line', async () => {
    const out = await readText('\n{"a":1}\r\n  \r\n\t\n{"a":\n{"a":3}', { fileName: 'x.ndjson' });
    expect(out.rows.map((r) => [r.row, r.ok])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(out.rejected[0]!.message).toMatch(/^line 5 /);
  });

  it('accepts CRLF line endings and a last line without newline', async () => {
    const out = await readText('{"a":1}\r\n{"a":2}', { fileName: 'x.ndjson' });
    expect(out.records).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('splits lines correctly across any chunk boundary', async () => {
    const text = '{"name":"Zoë","n":12345678901234567890}\n\n{"x":"日本語"}\r\n{"bad"\n';
    const whole = await readText(text, { fileName: 'x.ndjson' });
    for (const size of [1, 2, 5]) {
      expect((await readAll(chunked(text, size), { fileName: 'x.ndjson' })).rows).toEqual(whole.rows);
    }
    expect(whole.rows).toHaveLength(3);
  });

  it('keeps __proto__ / constructor / prototype as data and pollutes nothing', async () => {
    const line = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}';
    const out = await readText(`${line}\n`, { fileName: 'x.ndjson' });
    expect(out.rows).toEqual([{ row: 1, ok: true, data: line }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  });

  it('rejects a key repeated with different values instead of silently keeping one', async () => {
    const out = await readText('{"a":1,"a":2}\n{"a":1,"a":1}\n', { fileName: 'x.ndjson' });
    expect(out.rows.map((r) => (r.ok ? r.data : r.code))).toEqual(['invalid_json', '{"a":1}']);
  });

  it('rejects a line holding invalid UTF-8 after a valid start', async () => {
    const head = `${'{"pad":"ü"}\n'.repeat(7000)}`;
    const bad = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"name":"ok"}\n')]);
    const out = await readAll(streamOf(head, bad), { fileName: 'x.ndjson' });
    expect(out.rows).toHaveLength(7002);
    expect(out.rejected).toEqual([{ row: 7001, ok: false, code: 'invalid_encoding', message: expect.any(String) }]);
  });

  it('fails the file when a line passes maxRecordBytes, after the rows before it', async () => {
    const out = await readAll(streamOf('{"a":1}\n', `{"big":"${'x'.repeat(2 * MiB)}"}\n`, '{"a":2}\n'), {
      fileName: 'x.ndjson',
    });
    expect(out.records).toEqual([{ a: 1 }]);
    expect(out.error?.code).toBe('record_too_large');
  });
});
