import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../src/domain/json-text.js';
import { provenanceJson } from '../../src/domain/provenance.js';
import { applyKeyedChanges, mergeData, type ChangeOutcome, type KeyedChange } from '../../src/domain/record-merge.js';
import { indexEntriesOf, keyedRecordId, keyOfRecord, parseRecordModel, type KeyedModel } from '../../src/domain/record-model.js';
import { AppError } from '../../src/errors.js';

const model = (merge: KeyedModel['merge'] = 'merge'): KeyedModel => ({
  key: { fields: ['email'], normalize: { email: ['trim', 'lowercase', 'nfc'] } },
  merge,
  indexes: ['country'],
  version: 1,
  updatedAt: '2026-01-01T00:00:00.000Z',
});

function change(value: Record<string, unknown>, at: string, mark?: KeyedChange['mark']): KeyedChange {
  return { id: 'r1', key: { email: 'a@x' }, value, source: JSON.stringify({ type: 'api', at }), at, mark };
}

describe('parseRecordModel', () => {
  it('lists every problem of a model at once', () => {
    let error: unknown;
    try {
      parseRecordModel({ key: { fields: ['a', 'b', 'c', 'd', 'e'], normalize: { z: ['upper'] } }, merge: 'last', indexes: ['a..b', '', 'c.'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    const paths = ((error as AppError).details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['key.fields', 'key.normalize.z.0', 'merge', 'indexes.0', 'indexes.1', 'indexes.2']));
  });

  it('fills the defaults', () => {
    expect(parseRecordModel({ key: { fields: ['email'] } })).toEqual({ key: { fields: ['email'] }, merge: 'merge', indexes: [], rules: [], onInvalid: 'reject', driftAlerts: false });
  });
});

describe('keys', () => {
  it('normalizes, and refuses missing, empty, non-scalar and overlong keys', () => {
    const key = model().key;
    expect(keyOfRecord({ email: '  ALICE@Example.COM ' }, key)).toEqual({ ok: true, key: { email: 'alice@example.com' } });
    expect(keyOfRecord({}, key)).toMatchObject({ ok: false, code: 'missing_key' });
    expect(keyOfRecord({ email: null }, key)).toMatchObject({ ok: false, code: 'missing_key' });
    expect(keyOfRecord({ email: ' ' }, key)).toMatchObject({ ok: false, code: 'missing_key' });
    expect(keyOfRecord({ email: { a: 1 } }, key)).toMatchObject({ ok: false, code: 'invalid_key' });
    expect(keyOfRecord({ email: ['a'] }, key)).toMatchObject({ ok: false, code: 'invalid_key' });
    expect(keyOfRecord({ email: 'x'.repeat(1025) }, key)).toMatchObject({ ok: false, code: 'invalid_key' });
    expect(keyOfRecord({ phone: '+44 (0) 20-7946' }, { fields: ['phone'], normalize: { phone: ['digits'] } })).toEqual({
      ok: true,
      key: { phone: '440207946' },
    });
  });

  it('derives one id per project and key, composite keys included', () => {
    const m = model();
    expect(keyedRecordId('p', m, { email: 'a' })).toBe(keyedRecordId('p', m, { email: 'a' }));
    expect(keyedRecordId('p', m, { email: 'a' })).not.toBe(keyedRecordId('q', m, { email: 'a' }));
    const two: KeyedModel = { ...m, key: { fields: ['a', 'b'] } };
    expect(keyedRecordId('p', two, { a: 'x\u0000', b: 'y' })).not.toBe(keyedRecordId('p', two, { a: 'x', b: '\u0000y' }));
  });

  it('indexes non-empty scalars, big numbers exactly', () => {
    const data = parseJsonExact('{"country":"GB","n":12345678901234567890,"o":{"c":"x"},"e":""}', 10) as Record<string, unknown>;
    expect(indexEntriesOf(data, { indexes: ['country', 'n', 'o', 'o.c', 'e', 'missing'], indexSlots: { n: 7 } })).toEqual([
      { field: 'country', slot: 0, value: 'GB' },
      { field: 'n', slot: 7, value: '12345678901234567890' },
      { field: 'o.c', slot: 3, value: 'x' },
    ]);
  });
});

describe('merging', () => {
  it('merge: nested objects merge, arrays are replaced, null clears; __proto__ is data', () => {
    const base = JSON.parse('{"a":{"x":1,"y":2},"l":[1,2],"k":"v","__proto__":{"p":1}}') as Record<string, unknown>;
    const merged = mergeData(base, JSON.parse('{"a":{"y":3},"l":[9],"k":null,"__proto__":{"q":2}}') as Record<string, unknown>);
    expect(JSON.stringify(merged)).toBe('{"a":{"x":1,"y":3},"l":[9],"__proto__":{"p":1,"q":2}}');
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });

  it('folds changes in order and says what each did', () => {
    const outcomes: ChangeOutcome[] = [];
    const record = applyKeyedChanges(
      'r1',
      null,
      [change({ email: 'a@x', a: 1 }, 't1'), change({ email: 'a@x', a: 1 }, 't2'), change({ email: 'a@x', b: 2 }, 't3')],
      model(),
      outcomes,
    );
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'unchanged', 'updated']);
    expect(record!.data).toBe('{"email":"a@x","a":1,"b":2}');
    expect(record!.keyed).toMatchObject({ version: 2, revision: 1, createdAt: 't1' });
    expect(record!.ingestedAt).toBe('t3');
    expect(Object.keys(JSON.parse(provenanceJson(record!.keyed!.provenance)) as object)).toEqual(['email', 'a', 'b']);
  });

  it('skips a change at or before its stream mark, so a replay changes nothing (replace)', () => {
    const outcomes: ChangeOutcome[] = [];
    const first = applyKeyedChanges('r1', null, [change({ email: 'a@x', v: 1 }, 't1', { stream: 'file:f', seq: 5 })], model('replace'), outcomes);
    const newer = applyKeyedChanges('r1', first, [change({ email: 'a@x', v: 2 }, 't2')], model('replace'), outcomes);
    const replay = applyKeyedChanges('r1', newer, [change({ email: 'a@x', v: 1 }, 't3', { stream: 'file:f', seq: 5 })], model('replace'), outcomes);
    expect(replay).toBeNull();
    expect(outcomes[0]).toEqual({ status: 'unchanged' });
    expect(newer!.data).toBe('{"email":"a@x","v":2}');
  });

  it('first: the first write wins; a later one is noted as lastSeen', () => {
    const outcomes: ChangeOutcome[] = [];
    const record = applyKeyedChanges('r1', null, [change({ email: 'a@x', a: 1 }, 't1'), change({ email: 'a@x', a: 2, b: 3 }, 't2')], model('first'), outcomes);
    expect(record!.data).toBe('{"email":"a@x","a":1}');
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'unchanged']);
    expect((JSON.parse(provenanceJson(record!.keyed!.provenance)) as Record<string, { lastSeen?: { at: string } }>).a!.lastSeen!.at).toBe('t2');
  });

  it('rejects a change that would make the record too large, alone', () => {
    const outcomes: ChangeOutcome[] = [];
    const record = applyKeyedChanges(
      'r1',
      null,
      [change({ email: 'a@x', a: 1 }, 't1'), change({ email: 'a@x', s: 'x'.repeat(400 * 1024) }, 't2'), change({ email: 'a@x', b: 2 }, 't3')],
      model(),
      outcomes,
    );
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'rejected', 'updated']);
    expect(record!.data).toBe('{"email":"a@x","a":1,"b":2}');
  });
});
