// rename, drop and keep build the record anew instead of deleting keys in place: the
// result must be what deleting gave, key order included, for top-level and nested paths.
import { describe, expect, it } from 'vitest';
import { compileRules } from '../../../src/quality/rules/compile-rules.js';
import { deleteAt, getAt, hasAt, setAt, splitPath } from '../../../src/quality/rules/field-path.js';
import type { RuleStep } from '../../../src/quality/rules/rule-schema.js';

/** The steps as they were written before, with `delete`: the reference. */
function byDeleting(steps: RuleStep[], record: Record<string, unknown>): Record<string, unknown> | string {
  for (const step of steps) {
    if (step.op === 'rename') {
      const from = splitPath(step.from);
      if (!hasAt(record, from)) continue;
      const value = getAt(record, from);
      deleteAt(record, from);
      if (!setAt(record, splitPath(step.to), value)) return `fail ${step.to}`;
    } else if (step.op === 'drop') {
      for (const f of step.fields) deleteAt(record, splitPath(f));
    } else if (step.op === 'keep') {
      const kept: [string[], unknown][] = [];
      for (const f of step.fields) if (hasAt(record, splitPath(f))) kept.push([[...splitPath(f)], getAt(record, splitPath(f))]);
      for (const key of Object.keys(record)) delete record[key];
      for (const [p, v] of kept) setAt(record, p, v);
    }
  }
  return record;
}

const input = () =>
  JSON.parse('{"a":1,"b":"two","__proto__":"data","c":{"d":1,"e":[1,2]},"2":"int","f":null,"g":"x","h":{"i":{"j":true}}}') as Record<string, unknown>;

const cases: RuleStep[][] = [
  [{ op: 'rename', from: 'a', to: 'z' }],
  [{ op: 'rename', from: 'a', to: 'g' }],
  [{ op: 'rename', from: 'a', to: 'a' }],
  [{ op: 'rename', from: 'missing', to: 'z' }],
  [{ op: 'rename', from: '__proto__', to: 'proto' }],
  [{ op: 'rename', from: 'b', to: '__proto__' }],
  [{ op: 'rename', from: 'a', to: 'c.new' }],
  [{ op: 'rename', from: 'c.d', to: 'top' }],
  [{ op: 'rename', from: 'a', to: 'b.under' }],
  [{ op: 'rename', from: '2', to: 'two' }, { op: 'rename', from: 'two', to: '2' }],
  [{ op: 'rename', from: 'a', to: 'b' }, { op: 'rename', from: 'b', to: 'a' }],
  [{ op: 'drop', fields: ['a', 'c.d', 'missing', '__proto__'] }],
  [{ op: 'drop', fields: ['c.e', 'c'] }],
  [{ op: 'drop', fields: ['missing'] }],
  [{ op: 'keep', fields: ['g', 'c.e', 'h.i.j', '__proto__', 'missing', '2'] }],
  [{ op: 'keep', fields: ['c', 'c.d'] }],
  [{ op: 'rename', from: 'a', to: 'x' }, { op: 'drop', fields: ['b'] }, { op: 'rename', from: 'x', to: 'a' }, { op: 'keep', fields: ['a', 'g', 'c'] }],
];

describe('rename, drop and keep', () => {
  it.each(cases.map((steps) => [JSON.stringify(steps), steps] as const))('%s gives what deleting gave', (_name, steps) => {
    const expected = byDeleting(steps, input());
    const out = compileRules(steps).apply(input());
    if (typeof expected === 'string') {
      expect(out.ok).toBe(false);
      return;
    }
    expect(out.ok).toBe(true);
    const record = out.ok ? out.record : {};
    expect(JSON.stringify(record)).toBe(JSON.stringify(expected));
    expect(Object.keys(record)).toEqual(Object.keys(expected));
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
  });
});
