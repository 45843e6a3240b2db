import { isLosslessNumber, LosslessNumber, parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { compileCleaner } from '../../../src/quality/record-cleaner.js';
import { checkCompiledRules, compileRules } from '../../../src/quality/rules/compile-rules.js';
import { parseRuleSteps, type RuleStep } from '../../../src/quality/rules/rule-schema.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');

function rules(input: unknown[]) {
  const { steps, problems } = parseRuleSteps(input);
  expect(problems).toEqual([]);
  expect(checkCompiledRules(steps)).toEqual([]);
  return compileRules(steps, { hashSecret: SECRET });
}

const clean = (input: unknown[], record: Record<string, unknown>) => rules(input).apply(record);

describe('cleaning steps', () => {
  it('rename, drop, keep, trim, case, default on dot paths', () => {
    const out = clean(
      [
        { op: 'rename', from: 'E-mail', to: 'contact.email' },
        { op: 'trim', fields: '*' },
        { op: 'uppercase', fields: ['address.country'] },
        { op: 'lowercase', fields: ['contact.email'] },
        { op: 'default', field: 'tier', value: 'free' },
        { op: 'drop', fields: ['junk'] },
      ],
      { 'E-mail': ' A@B.COM ', address: { country: ' gb ' }, junk: 1, tags: [' x '] },
    );
    expect(out).toEqual({ ok: true, record: { contact: { email: 'a@b.com' }, address: { country: 'GB' }, tier: 'free', tags: ['x'] } });
    expect(clean([{ op: 'keep', fields: ['a.b', 'c'] }], { a: { b: 1, z: 2 }, c: 3, d: 4 })).toEqual({ ok: true, record: { a: { b: 1 }, c: 3 } });
  });

  it('trim of every string reaches nested objects and arrays, and a __proto__ key stays data', () => {
    const record = JSON.parse('{"__proto__":{"a":" x "},"b":[" y ",{"c":" z "}],"d":"kept","n":1}') as Record<string, unknown>;
    const out = clean([{ op: 'trim', fields: '*' }], record);
    expect(out.ok).toBe(true);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(JSON.stringify(record)).toBe('{"__proto__":{"a":"x"},"b":["y",{"c":"z"}],"d":"kept","n":1}');
  });

  it('casts keep every digit, and refuse what is not of the type', () => {
    const big = parse('{"n":"12345678901234567890.123456789","i":"42","b":"Yes"}') as Record<string, unknown>;
    const out = clean(
      [
        { op: 'cast', field: 'n', to: 'number' },
        { op: 'cast', field: 'i', to: 'integer' },
        { op: 'cast', field: 'b', to: 'boolean' },
      ],
      big,
    );
    expect(out.ok).toBe(true);
    const record = (out as { record: Record<string, unknown> }).record;
    expect(isLosslessNumber(record.n) && (record.n as LosslessNumber).value).toBe('12345678901234567890.123456789');
    expect(record.b).toBe(true);
    // A number that reads back as its own text is stored as a plain one; others keep their digits.
    expect(record.i).toBe(42);
    const exact = clean([{ op: 'cast', field: 'x', to: 'number' }, { op: 'cast', field: 'y', to: 'number' }], { x: '1.50', y: '-0' });
    const kept = (exact as { record: Record<string, unknown> }).record;
    expect([kept.x, kept.y].map((v) => isLosslessNumber(v) && v.value)).toEqual(['1.50', '-0']);
    const bad = clean([{ op: 'trim', fields: ['x'] }, { op: 'cast', field: 'x', to: 'integer' }], { x: '4.5' });
    expect(bad).toMatchObject({ ok: false, skipped: false, reason: { code: 'rule_failed', step: 1, rule: 'cast', field: 'x' } });
    expect(clean([{ op: 'cast', field: 'x', to: 'string' }], { x: new LosslessNumber('1.50') })).toEqual({ ok: true, record: { x: '1.50' } });
  });

  it('dates read with declared formats only; an ambiguous value is an error, not a guess', () => {
    const step = { op: 'cast', field: 'd', to: 'date', formats: ['dd/MM/yyyy', 'yyyy-MM-dd'] };
    expect(clean([step], { d: '23/02/2001' })).toEqual({ ok: true, record: { d: '2001-02-23' } });
    expect(clean([step], { d: '02/23/2001' })).toMatchObject({ ok: false, reason: { step: 0, field: 'd' } });
    const both = { op: 'cast', field: 'd', to: 'date', formats: ['dd/MM/yyyy', 'MM/dd/yyyy'] };
    const ambiguous = clean([both], { d: '03/02/2001' });
    expect(ambiguous).toMatchObject({ ok: false, reason: { code: 'rule_failed' } });
    expect((ambiguous as { reason: { message: string } }).reason.message).toContain('ambiguous');
    expect(clean([both], { d: '25/12/2001' })).toEqual({ ok: true, record: { d: '2001-12-25' } });
  });

  it('map, replace (linear time), split, join, email, phone, hash, required', () => {
    const out = clean(
      [
        { op: 'map', field: 'country', values: { UK: 'GB', 'United Kingdom': 'GB' } },
        { op: 'replace', field: 'ref', pattern: '[^0-9]+', with: '' },
        { op: 'split', field: 'name', separator: ' ', into: ['first', 'last'] },
        { op: 'join', fields: ['last', 'first'], separator: ', ', into: 'sortName' },
        { op: 'email', field: 'email' },
        { op: 'phone', field: 'phone', defaultCountry: 'GB' },
        { op: 'hash', fields: ['ssn'] },
        { op: 'required', fields: ['email'] },
      ],
      { country: 'United Kingdom', ref: 'AB-12-34', name: 'Ada King Lovelace', email: ' Ada@Example.COM ', phone: '020 7946 0958', ssn: '123' },
    );
    expect(out.ok).toBe(true);
    const r = (out as { record: Record<string, unknown> }).record;
    expect(r).toMatchObject({ country: 'GB', ref: '1234', first: 'Ada', last: 'King Lovelace', sortName: 'King Lovelace, Ada', email: 'ada@example.com', phone: '+442079460958' });
    expect(r.ssn).toMatch(/^[0-9a-f]{64}$/);
    expect(clean([{ op: 'map', field: 'c', values: { UK: 'GB' }, otherwise: 'error' }], { c: 'FR' })).toMatchObject({ ok: false, reason: { rule: 'map' } });
    expect(clean([{ op: 'map', field: 'c', values: { UK: 'GB' } }], { c: 'FR' })).toEqual({ ok: true, record: { c: 'FR' } });
    expect(clean([{ op: 'email', field: 'e' }], { e: 'not-an-email' })).toMatchObject({ ok: false, reason: { rule: 'email', field: 'e' } });
    expect(clean([{ op: 'phone', field: 'p', defaultCountry: 'GB' }], { p: '12' })).toMatchObject({ ok: false, reason: { rule: 'phone' } });
    expect(clean([{ op: 'required', fields: ['a', 'b'] }], { a: 1, b: '' })).toMatchObject({ ok: false, reason: { field: 'b' } });
  });

  it('hash is an HMAC: the same value and secret give the same pseudonym, another secret another', () => {
    const step = parseRuleSteps([{ op: 'hash', fields: ['x'] }]).steps;
    const a = compileRules(step, { hashSecret: SECRET }).apply({ x: 'v' });
    const b = compileRules(step, { hashSecret: SECRET }).apply({ x: 'v' });
    const c = compileRules(step, { hashSecret: Buffer.alloc(32, 8).toString('base64') }).apply({ x: 'v' });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('filter skips rows that do not match, with the step that skipped them', () => {
    const f = rules([{ op: 'filter', field: 'status', in: ['active', 'trial'] }, { op: 'required', fields: ['x'] }]);
    expect(f.apply({ status: 'closed' })).toEqual({ ok: false, skipped: true, step: 0 });
    expect(f.apply({ status: 'active', x: 1 }).ok).toBe(true);
    expect(rules([{ op: 'filter', field: 'x', exists: true }]).apply({})).toMatchObject({ skipped: true });
    expect(rules([{ op: 'filter', field: 'n', equals: 1 }]).apply({ n: new LosslessNumber('1') }).ok).toBe(true);
  });
});

describe('validation at save: every problem with its step index', () => {
  it('lists parameter problems of every step', () => {
    const { problems } = parseRuleSteps([
      { op: 'rename', from: 'a', to: 'b' },
      { op: 'explode', field: 'x' },
      { op: 'cast', field: 'x', to: 'money' },
      { op: 'map', field: 'c' },
      { op: 'filter', field: 'c' },
    ]);
    expect(problems.map((p) => [p.step, p.path])).toEqual([
      [1, 'op'],
      [2, 'to'],
      [3, 'values'],
      [4, ''],
    ]);
  });

  it('refuses a date format that does not read its own example, and patterns that backtrack', () => {
    const { steps } = parseRuleSteps([
      { op: 'cast', field: 'd', to: 'date', formats: ['dd/mm/yyyy'] },
      { op: 'cast', field: 'd', to: 'date', formats: [{ format: 'dd/MM/yyyy', example: '2001-02-23' }] },
      { op: 'replace', field: 'x', pattern: '(a+)+$', with: '' },
      { op: 'replace', field: 'x', pattern: '(a)\\1', with: '' },
      { op: 'phone', field: 'p', defaultCountry: 'XX' },
    ]);
    expect(checkCompiledRules(steps).map((p) => [p.step, p.path])).toEqual([
      [0, 'formats'],
      [1, 'formats'],
      [2, 'pattern'],
      [3, 'pattern'],
      [4, 'defaultCountry'],
    ]);
  });
});

describe('the schema contract', () => {
  const model = (schema: Record<string, unknown>, rulesIn: RuleStep[] = []) =>
    compileCleaner({ version: 1, ...(rulesIn.length === 0 ? {} : { rulesJson: JSON.stringify(rulesIn) }), schemaJson: JSON.stringify(schema) })!;

  it('names the field path and the keyword; big numbers are checked as numbers', () => {
    const c = model({ type: 'object', properties: { address: { type: 'object', properties: { country: { enum: ['GB', 'FR'] } } }, n: { type: 'number' } }, required: ['email'] });
    expect(c.clean({ email: 'x', address: { country: 'DE' } })).toMatchObject({ kind: 'rejected', reason: { code: 'schema_invalid', field: 'address.country', rule: 'schema' } });
    const missing = c.clean({ address: { country: 'GB' } });
    expect(missing).toMatchObject({ kind: 'rejected', reason: { field: 'email' } });
    expect((missing as { reason: { message: string } }).reason.message).toContain('required');
    expect(c.clean({ email: 'x', n: new LosslessNumber('123456789012345678901234567890') }).kind).toBe('clean');
  });
});
