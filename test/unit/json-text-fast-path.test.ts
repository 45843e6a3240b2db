// The JSON.parse fast path of exact parsing must give exactly what lossless-json gives:
// the same stored text, the same values, the same errors. Checked on hand-picked edge
// cases and on thousands of generated documents full of awkward numbers and keys.
import { isLosslessNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { parsePlainJson, parseJsonExact, parseStoredJson, toJsonText } from '../../src/domain/json-text.js';
import { jsonBytesToRow } from '../../src/ingest/parsers/json-record.js';
import { AppError, errors } from '../../src/errors.js';

const DEPTH = 64;

function lossless(text: string): { text?: string; error?: string } {
  try {
    return { text: losslessStringify(losslessParse(text)) ?? 'null' };
  } catch (error) {
    // As parseJsonExact words it.
    return { error: errors.malformedJson((error as Error).message.slice(0, 200)).message };
  }
}

function exact(text: string): { text?: string; error?: string } {
  try {
    return { text: toJsonText(parseJsonExact(text, DEPTH)) };
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return { error: (error as AppError).message };
  }
}

const EDGE_CASES = [
  '{"a":1,"b":-2,"c":0,"d":0.5,"e":-0.25,"f":123456789012345}',
  '{"n":9007199254740991}',
  '{"n":9007199254740992}',
  '{"n":9007199254740993}',
  '{"n":12345678901234567890}',
  '{"n":0.1000000000000000055511151231257827}',
  '{"n":0.30000000000000004}',
  '{"n":1.10}',
  '{"n":1.0}',
  '{"n":-0}',
  '{"n":-0.0}',
  '{"n":0.000001}',
  '{"n":0.0000001}',
  '{"n":1e21}',
  '{"n":1E+2}',
  '{"n":2.5e-7}',
  '{"n":100000000000000000000}',
  '{"n":1e400}',
  '[1,2,3]',
  '[{"a":1},{"a":2.000}]',
  '{"a":1,"a":1}',
  '{"a":1,"a":2}',
  '{"a":{"x":1},"a":{"x":1}}',
  '{"a":{"x":1},"a":{"x":2}}',
  '{"__proto__":{"polluted":true},"constructor":{"prototype":1}}',
  '{"s":"x\\"y:1","t":"\\\\","u":"a\\u0022b"}',
  '{"s":"héllo ключ 日本 😀","lone":"\\ud800x\\udfff","nul":"\\u0000"}',
  '{"k:1":"v","2":"two","1":"one"}',
  '  {"spaced" : [ 1 , 2 ] , "x" : { } }  ',
  '"just a string"',
  '42',
  'null',
  'true',
  '',
  '{',
  '{"a":}',
  '{"a":01}',
  '{"a":1,}',
  '[1,]',
  '{"a":.5}',
  '{"a":-}',
  '{"a":"unterminated}',
  '{"a":"\\x"}',
  '{"a":"raw\u0001control"}',
  '{"a":NaN}',
  '{"a":1} trailing',
  "{'a':1}",
];

describe('exact JSON parsing with the JSON.parse fast path', () => {
  it.each(EDGE_CASES)('gives what lossless-json gives for %s', (text) => {
    expect(exact(text)).toEqual(lossless(text));
  });

  it('takes the fast path only when every number reads back as written and no key repeats', () => {
    expect(parsePlainJson('{"a":1,"b":[0.5,-3],"c":"9007199254740993"}')).toEqual({ a: 1, b: [0.5, -3], c: '9007199254740993' });
    for (const text of ['{"n":9007199254740993}', '{"n":1.10}', '{"n":-0}', '{"n":1e5}', '{"a":1,"a":1}', '{"n":0.0000001}', '{bad']) {
      expect(parsePlainJson(text)).toBeUndefined();
    }
  });

  it('keeps __proto__ as an own data key on the fast path', () => {
    const value = parsePlainJson('{"__proto__":{"isAdmin":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('agrees with lossless-json on thousands of generated documents', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const numbers = [
      '0', '-0', '1', '-1', '10', '0.5', '1.5', '1.50', '0.1', '0.10', '123456789012345', '1234567890123456',
      '9007199254740991', '9007199254740992', '9007199254740993', '99999999999999999999', '0.1234567890123456789',
      '1e3', '1E-3', '2.5e+10', '0.000001', '0.0000001', '-0.0', '3.0', '1.7976931348623157e308', '5e-324', '123.456',
    ];
    const keys = ['a', 'b', 'id', '__proto__', 'constructor', '1', '10', 'k"q', 'é', 'a:b'];
    const strings = ['', 'x', '12', '-3.0', 'a"b', 'back\\\\slash', 'line\\nbreak', 'ü😀', '\\u0041', '{"not":"json"}'];
    const value = (depth: number): string => {
      const r = rand();
      if (depth > 3 || r < 0.35) return numbers[Math.floor(rand() * numbers.length)]!;
      if (r < 0.55) return JSON.stringify(strings[Math.floor(rand() * strings.length)]!).replaceAll('\\\\', '\\');
      if (r < 0.6) return ['true', 'false', 'null'][Math.floor(rand() * 3)]!;
      if (r < 0.8) return `[${Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1)).join(',')}]`;
      const n = Math.floor(rand() * 5);
      const fields = Array.from({ length: n }, () => `${JSON.stringify(keys[Math.floor(rand() * keys.length)])}${rand() < 0.2 ? ' : ' : ':'}${value(depth + 1)}`);
      return `{${fields.join(rand() < 0.2 ? ' , ' : ',')}}`;
    };
    let fast = 0;
    for (let i = 0; i < 5000; i++) {
      const text = value(0);
      if (parsePlainJson(text) !== undefined) fast++;
      expect(exact(text), text).toEqual(lossless(text));
    }
    // The generator is awkward on purpose, but plenty of documents still take the fast path.
    expect(fast).toBeGreaterThan(500);
  });

  it('gives NDJSON rows the same text and the same rejections as lossless-json', () => {
    const text = { invalidUtf8Seen: false };
    for (const line of EDGE_CASES) {
      const row = jsonBytesToRow(1, Buffer.from(line, 'utf8'), text, 'line 1');
      let expected;
      try {
        const value = losslessParse(line);
        expected =
          typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value)
            ? { ok: true, data: losslessStringify(value) }
            : { ok: false, code: 'not_an_object' };
      } catch {
        expected = { ok: false, code: 'invalid_json' };
      }
      if (expected.ok) expect(row, line).toMatchObject({ ok: true, data: expected.data });
      else expect(row, line).toMatchObject({ ok: false, code: expected.code });
    }
  });
});

describe('parseStoredJson: stored record data read back', () => {
  const stored = [
    '{"Email":"ada@example.com","Country":"Korea, Republic of","City":"Zürich"}',
    '{"a":{"b":["x","y"]},"__proto__":{"p":"q"},"n":"12"}',
    '{"big":12345678901234567890123,"dec":1.50,"neg":-0,"plain":[1,2,3]}',
    '{"note":"Apt 3, 4th floor","deep":{"x":[{"y":-1e5}]}}',
  ];
  it.each(stored)('gives the text it was written from: %s', (text) => {
    const value = parseStoredJson(text);
    expect(toJsonText(value)).toBe(toJsonText(parseJsonExact(text, DEPTH)));
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it('keeps every digit of numbers that JSON.parse would round', () => {
    const value = parseStoredJson('{"big":12345678901234567890123}');
    expect(isLosslessNumber(value.big)).toBe(true);
    expect(toJsonText(value)).toBe('{"big":12345678901234567890123}');
  });
});
