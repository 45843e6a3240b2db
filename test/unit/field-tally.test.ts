// The field tally in memory: which paths and types a batch of records gives, how examples
// are kept (exact numbers, clipped strings, none for hashed fields) and its bounds.
import { describe, expect, it } from 'vitest';
import { fieldTallyFor, FieldTally, MAX_TALLY_PATHS } from '../../src/quality/catalog/field-tally.js';
import { changeOf } from '../../src/quality/catalog/field-catalog.js';

describe('FieldTally', () => {
  it('gives one observation per dot path with its types counted, arrays not walked into', () => {
    const tally = new FieldTally();
    tally.addText('{"a":1,"b":{"c":"x","d":[1,{"e":2}]},"n":null}');
    tally.addText('{"a":"one","b":{"c":"y"},"t":true}');
    tally.addText('[1,2]');
    expect(tally.recordCount).toBe(2);
    const fields = new Map(tally.take().map((f) => [f.path, f]));
    expect([...fields.keys()].sort()).toEqual(['a', 'b', 'b.c', 'b.d', 'n', 't']);
    expect(fields.get('a')).toEqual({ path: 'a', types: { number: 1, string: 1 }, example: '1' });
    expect(fields.get('b')).toEqual({ path: 'b', types: { object: 2 } });
    expect(fields.get('b.d')).toEqual({ path: 'b.d', types: { array: 1 } });
    expect(fields.get('n')!.example).toBe('null');
    expect(tally.isEmpty).toBe(true);
    expect(tally.take()).toEqual([]);
  });

  it('keeps every digit of a number and clips a long string', () => {
    const tally = new FieldTally();
    tally.addText(`{"big":12345678901234567890.5,"long":"${'x'.repeat(500)}"}`);
    const fields = new Map(tally.take().map((f) => [f.path, f]));
    expect(fields.get('big')!.example).toBe('12345678901234567890.5');
    expect(JSON.parse(fields.get('long')!.example!)).toHaveLength(200);
  });

  it('redacts the fields hash steps write, and everything under them', () => {
    const tally = fieldTallyFor({ rulesJson: JSON.stringify([{ op: 'trim', fields: '*' }, { op: 'hash', fields: ['ssn', 'card'] }]) });
    tally.add({ ssn: 'abc', card: { number: '4111', exp: '12/30' }, cardholder: 'Ann' });
    const fields = new Map(tally.take().map((f) => [f.path, f]));
    expect(fields.get('ssn')).toEqual({ path: 'ssn', types: { string: 1 }, redacted: true });
    expect(fields.get('card.number')).toEqual({ path: 'card.number', types: { string: 1 }, redacted: true });
    expect(fields.get('cardholder')!.example).toBe('"Ann"');
  });

  it('stops adding paths past its bound, still counting the ones it has', () => {
    const tally = new FieldTally();
    const wide: Record<string, number> = {};
    for (let i = 0; i < MAX_TALLY_PATHS + 50; i++) wide[`k${i}`] = i;
    tally.add(wide);
    tally.add({ k0: 'again' });
    const fields = tally.take();
    expect(fields).toHaveLength(MAX_TALLY_PATHS);
    expect(fields.find((f) => f.path === 'k0')!.types).toEqual({ number: 1, string: 1 });
  });
});

describe('changeOf', () => {
  it('names a new field, a new type of a known one, and nothing for known types', () => {
    const seen = { path: 'age', types: { number: 2 } };
    expect(changeOf(seen, undefined)).toEqual({ path: 'age', knownTypes: [], newTypes: ['number'] });
    expect(changeOf(seen, { string: 5 })).toEqual({ path: 'age', knownTypes: ['string'], newTypes: ['number'] });
    expect(changeOf(seen, { number: 1, string: 5 })).toBeUndefined();
  });
});
