import { describe, expect, it } from 'vitest';
import { chunked, MiB, readAll, readText, streamOf } from './parser-test-kit.js';

describe('JSON array parsing', () => {
  it('yields each element of a top-level array as a record', async () => {
    const out = await readText('[{"a":1},{"a":2} , {"a":{"b":[1,2,{"c":"]}"}]}}]', { fileName: 'x.json' });
    expect(out.file.format).toBe('json');
    expect(out.records).toEqual([{ a: 1 }, { a: 2 }, { a: { b: [1, 2, { c: ']}' }] } }]);
    expect(out.rows.map((r) => r.row)).toEqual([1, 2, 3]);
  });

  it('streams a pretty-printed array split into 1-byte chunks', async () => {
    const doc = '[\n  {\n    "name": "Zoë \\"Z\\" \\\\ [x]",\n    "n": 98765432109876543210\n  },\n  {"e": "日本"}\n]\n';
    const whole = await readText(doc, { fileName: 'x.json' });
    const split = await readAll(chunked(doc, 1), { fileName: 'x.json' });
    expect(split.rows).toEqual(whole.rows);
    expect(whole.rows[0]).toEqual({ row: 1, ok: true, data: '{"name":"Zoë \\"Z\\" \\\\ [x]","n":98765432109876543210}' });
    expect(whole.records[1]).toEqual({ e: '日本' });
  });

  it('rejects non-object elements one by one', async () => {
    const out = await readText('[1, "two", [3], null, true, {"ok":1}, -2.5e3]', { fileName: 'x.json' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'not_an_object',
      'ok',
      'not_an_object',
    ]);
  });

  it('rejects an element with a bad value but delimited structure as invalid_json', async () => {
    const out = await readText('[{"a":1},{"a":tru},{"a":3}]', { fileName: 'x.json' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'invalid_json', 'ok']);
  });

  it('treats a single top-level object as one record', async () => {
    const out = await readText('  {"id": 1, "tags": ["a"]}  \n', { fileName: 'x.json' });
    expect(out.rows).toEqual([{ row: 1, ok: true, data: '{"id":1,"tags":["a"]}' }]);
  });

  it('yields nothing for an empty array', async () => {
    const out = await readText('[ ]', { fileName: 'x.json' });
    expect(out.rows).toEqual([]);
    expect(out.error).toBeUndefined();
  });

  it.each([
    ['a bracket mismatch', '[{"a":1},{"a":[2}]', 1],
    ['a missing comma', '[{"a":1} {"a":2}]', 1],
    ['a trailing comma', '[{"a":1},{"a":2},]', 2],
    ['a premature end', '[{"a":1},{"a":2},{"a":', 2],
    ['an unterminated string', '[{"a":1},{"a":"x]', 1],
    ['content after the array', '[{"a":1}] [{"a":2}]', 1],
    ['a missing closing bracket', '[{"a":1}', 1],
  ])('fails the file on %s after yielding the good elements', async (_name, doc, good) => {
    const out = await readText(doc, { fileName: 'x.json' });
    expect(out.error?.code).toBe('malformed_json');
    expect(out.records).toHaveLength(good);
  });

  it('fails a .json file that is neither an array nor an object', async () => {
    const out = await readText('"just a string"', { fileName: 'x.json' });
    expect(out.error?.code).toBe('malformed_json');
  });

  it('keeps dangerous keys as plain data', async () => {
    const out = await readText('[{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}]', { fileName: 'x.json' });
    expect(out.rows[0]).toEqual({ row: 1, ok: true, data: '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('fails the file when one element passes maxRecordBytes, after the elements before it', async () => {
    const out = await readAll(streamOf('[{"a":1},', `{"big":"${'x'.repeat(2 * MiB)}"}`, ',{"a":2}]'), { fileName: 'x.json' });
    expect(out.records).toEqual([{ a: 1 }]);
    expect(out.error?.code).toBe('record_too_large');
  });

  it('streams a large array element by element', async () => {
    const count = 20_000;
    const parts = ['['];
    for (let i = 0; i < count; i++) parts.push(`${i ? ',' : ''}{"id":${i},"name":"customer ${i}"}`);
    parts.push(']');
    const out = await readAll(streamOf(...parts), { fileName: 'x.json' });
    expect(out.rows).toHaveLength(count);
    expect(out.records.at(-1)).toEqual({ id: count - 1, name: `customer ${count - 1}` });
  });

  it('tracks escapes and backslash runs across every possible chunk boundary', async () => {
    const doc = String.raw`[{"a":"x\\","b":"\"]\""},"q\\\"",{"c":"\\\\"}]`;
    const expected = await readText(doc, { fileName: 'x.json' });
    expect(expected.rows.map((r) => (r.ok ? r.data : r.code))).toEqual([
      String.raw`{"a":"x\\","b":"\"]\""}`,
      'not_an_object',
      String.raw`{"c":"\\\\"}`,
    ]);
    const bytes = Buffer.from(doc);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = await readAll(streamOf(bytes.subarray(0, cut), bytes.subarray(cut)), { fileName: 'x.json' });
      expect(split.rows).toEqual(expected.rows);
    }
  });

  it('rejects an absurdly deep element row by row and goes on', async () => {
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const out = await readText(`[{"n":1},${deep},{"n":3}]`, { fileName: 'x.json' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'too_deep', 'ok']);
  });
});
