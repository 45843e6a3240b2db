import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../src/domain/json-text.js';
import { buildRecord, MAX_ITEM_BYTES, storedRecordSize } from '../../src/domain/record-builder.js';

const base = { id: '01J0000000000000000000000A', source: '{"type":"api"}', ingestedAt: '2026-01-01T00:00:00.000Z' };
const TOO_LARGE = `the record is larger than the record size limit of ${MAX_ITEM_BYTES} bytes`;

describe('buildRecord', () => {
  it('stores a parsed value as its exact JSON text', () => {
    const value = parseJsonExact('{"big":12345678901234567890.50,"__proto__":{"x":1}}', 20);
    expect(buildRecord({ ...base, body: { value } })).toEqual({
      ok: true,
      record: { ...base, data: '{"big":12345678901234567890.50,"__proto__":{"x":1}}' },
    });
  });

  it('takes JSON text a file parser already wrote as it is', () => {
    expect(buildRecord({ ...base, body: { jsonText: '{"a":"1"}' } })).toMatchObject({ ok: true, record: { data: '{"a":"1"}' } });
  });

  it.each([[[1]], ['text'], [null], [42]])('refuses %j: a record must be an object', (value) => {
    expect(buildRecord({ ...base, body: { value } })).toEqual({ ok: false, code: 'not_an_object', message: 'A record must be a JSON object.' });
  });

  it('refuses JSON text that is not an object', () => {
    expect(buildRecord({ ...base, body: { jsonText: '[1]' } })).toMatchObject({ ok: false, code: 'not_an_object' });
  });

  it('accepts a record whose item is exactly at the limit, refuses one byte more, both ways in', () => {
    const empty = storedRecordSize({ ...base, data: '{"p":""}' });
    const at = 'x'.repeat(MAX_ITEM_BYTES - empty);
    expect(buildRecord({ ...base, body: { value: { p: at } } }).ok).toBe(true);
    expect(buildRecord({ ...base, body: { value: { p: `${at}x` } } })).toEqual({ ok: false, code: 'record_too_large', message: TOO_LARGE });
    expect(buildRecord({ ...base, body: { jsonText: `{"p":"${at}x"}` } })).toEqual({ ok: false, code: 'record_too_large', message: TOO_LARGE });
  });
});
