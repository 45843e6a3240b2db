import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  decodeUtf8,
  isPlainRecord,
  jsonDepthExceeds,
  parseJsonExact,
  toJsonText,
} from '../../src/domain/json-text.js';

const DEPTH = 64;
const roundTrip = (text: string) => toJsonText(parseJsonExact(text, DEPTH));

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).code;
  }
  return undefined;
}

describe('parseJsonExact / toJsonText', () => {
  it.each([
    ['a big integer', '{"n":12345678901234567890123}'],
    ['a long decimal', '{"n":0.1000000000000000055511151231257827}'],
    ['negative zero', '{"n":-0}'],
    ['a number beyond double range', '{"n":1e400}'],
    ['exponent forms', '{"a":1E+2,"b":-2.5e-7}'],
    ['negative big integer', '{"n":-98765432109876543210}'],
    ['booleans and null', '{"t":true,"f":false,"z":null}'],
    ['nested objects and arrays', '{"a":{"b":[1,{"c":[[],{}]},"x"]},"d":[null,[true]]}'],
  ])('keeps %s exactly as written', (_label, text) => {
    expect(roundTrip(text)).toBe(text);
  });

  it('keeps any Unicode: BMP, astral, escapes and lone surrogates', () => {
    const value = parseJsonExact('{"s":"héllo ключ 日本 😀","e":"\\ud83d\\ude00","lone":"\\ud800x\\udfff","nul":"\\u0000"}', DEPTH) as Record<string, string>;
    expect(value.s).toBe('héllo ключ 日本 😀');
    expect(value.e).toBe('😀');
    expect(value.lone).toBe('\ud800x\udfff');
    expect(value.nul).toBe('\u0000');
    const text = toJsonText(value);
    // Lone surrogates come back as escapes, so the stored text stays valid UTF-8.
    expect(text).toContain('\\ud800x\\udfff');
    expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
    expect(parseJsonExact(text, DEPTH)).toEqual(value);
  });

  it('keeps __proto__, constructor and prototype as data and leaves Object.prototype alone', () => {
    const text =
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},' +
      '"nested":{"__proto__":{"isAdmin":true}},"list":[{"__proto__":{"x":1}}]}';
    const value = parseJsonExact(text, DEPTH) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor', 'nested', 'list']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(toJsonText(value)).toBe(text);
  });

  it.each(['{"a":', '{a:1}', "{'a':1}", '[1,]', '{"a":1}}', 'NaN', '{"a":01}', '{"a":1,"a":2}', ''])(
    'refuses malformed JSON %j with malformed_json',
    (text) => {
      expect(codeOf(() => parseJsonExact(text, DEPTH))).toBe('malformed_json');
    },
  );

  it('refuses nesting deeper than the limit before parsing', () => {
    expect(codeOf(() => parseJsonExact('['.repeat(100_000) + ']'.repeat(100_000), DEPTH))).toBe('too_deep');
    expect(codeOf(() => parseJsonExact('{"a":'.repeat(65) + '1' + '}'.repeat(65), DEPTH))).toBe('too_deep');
    expect(roundTrip('{"a":'.repeat(64) + '1' + '}'.repeat(64))).toBe('{"a":'.repeat(64) + '1' + '}'.repeat(64));
  });

  it('returns JSON text for scalars too', () => {
    expect(toJsonText(parseJsonExact('"x"', DEPTH))).toBe('"x"');
    expect(toJsonText(parseJsonExact('null', DEPTH))).toBe('null');
  });
});

describe('jsonDepthExceeds', () => {
  it('counts objects and arrays', () => {
    expect(jsonDepthExceeds('[[[]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds('{"a":{"b":[1]}}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":{"b":[{}]}}', 3)).toBe(true);
  });

  it('ignores brackets inside strings, including after escaped quotes', () => {
    expect(jsonDepthExceeds('{"s":"[[[[[[{{{{"}', 1)).toBe(false);
    expect(jsonDepthExceeds('{"s":"\\"[[[[\\\\"}', 1)).toBe(false);
    expect(jsonDepthExceeds('{"s":"\\\\", "t":[[[]]]}', 2)).toBe(true);
  });

  it('measures depth, not the number of siblings', () => {
    expect(jsonDepthExceeds(`[${'[],'.repeat(10_000)}[]]`, 2)).toBe(false);
  });
});

describe('isPlainRecord', () => {
  it('is true only for objects', () => {
    expect(isPlainRecord(parseJsonExact('{}', DEPTH))).toBe(true);
    expect(isPlainRecord(parseJsonExact('[]', DEPTH))).toBe(false);
    expect(isPlainRecord(parseJsonExact('null', DEPTH))).toBe(false);
    expect(isPlainRecord(parseJsonExact('12345678901234567890', DEPTH))).toBe(false);
    expect(isPlainRecord(parseJsonExact('"s"', DEPTH))).toBe(false);
  });
});

describe('decodeUtf8', () => {
  it('decodes valid UTF-8, astral characters included', () => {
    expect(decodeUtf8(Buffer.from('{"s":"😀 ü"}', 'utf8'))).toBe('{"s":"😀 ü"}');
  });

  it.each([
    ['a lone continuation byte', [0x7b, 0x80, 0x7d]],
    ['an invalid byte', [0x22, 0xff, 0x22]],
    ['a truncated sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses %s with invalid_utf8', (_label, bytes) => {
    expect(codeOf(() => decodeUtf8(Buffer.from(bytes)))).toBe('invalid_utf8');
  });
});
