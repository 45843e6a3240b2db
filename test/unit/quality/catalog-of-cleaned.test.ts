// File jobs with cleaning rules hand the field catalog each row's cleaned object instead of
// its printed text: the catalog must count both alike, whatever the rules made.
import { describe, expect, it } from 'vitest';
import { toJsonText } from '../../../src/domain/json-text.js';
import { addToBatch, emptyBatch } from '../../../src/ingest/pipeline/batch.js';
import { FieldTally } from '../../../src/quality/catalog/field-tally.js';
import { compileRules } from '../../../src/quality/rules/compile-rules.js';

const SECRET = Buffer.alloc(32, 3).toString('base64');

const rules = compileRules(
  [
    { op: 'trim', fields: '*' },
    { op: 'cast', field: 'n', to: 'number' },
    { op: 'cast', field: 'i', to: 'integer' },
    { op: 'cast', field: 'b', to: 'boolean' },
    { op: 'split', field: 'name', separator: ' ', into: ['first', 'person.last'] },
    { op: 'hash', fields: ['id'] },
    { op: 'default', field: 'tags', value: ['a', { deep: 1 }] },
    { op: 'rename', from: 'old', to: 'moved.here' },
    { op: 'map', field: 'c', values: { UK: 'GB', none: null }, otherwise: 'keep' },
  ],
  { hashSecret: SECRET },
);

function row(i: number): Record<string, unknown> {
  const numbers = ['1', '-0', '0.10', '12345678901234567890', '1e3', '3.5', '007x', ' 42 '];
  return {
    id: `c${i}`,
    n: numbers[i % numbers.length],
    i: String(i - 50),
    b: i % 3 === 0 ? 'yes' : 'no',
    name: i % 4 === 0 ? 'Ada' : ` Ada  Lovelace ${i} `,
    ...(i % 5 === 0 ? { tags: null } : {}),
    ...(i % 2 === 0 ? { old: { x: i, y: [i] } } : {}),
    c: ['UK', 'none', 'FR'][i % 3],
  };
}

describe('catalog of cleaned rows', () => {
  it('counts a cleaned object exactly as the text printed from it', () => {
    const fromValues = new FieldTally(['id']);
    const fromText = new FieldTally(['id']);
    let batch = emptyBatch();
    for (let i = 0; i < 200; i++) {
      const input = JSON.parse(JSON.stringify(row(i))) as Record<string, unknown>;
      const out = rules.apply(input);
      if (!out.ok) continue;
      const data = toJsonText(out.record);
      fromValues.add(out.record);
      fromText.addText(data);
      batch = addToBatch(batch, { row: i + 1, record: { id: `r${i}`, data, source: '{}', ingestedAt: 'now' }, value: out.record });
    }
    const observed = fromValues.take();
    expect(observed.length).toBeGreaterThan(10);
    expect(observed).toEqual(fromText.take());
    expect(batch.values).toHaveLength(batch.records.length);
  });

  it('a batch keeps each record next to its value, none where a row had none', () => {
    let batch = emptyBatch();
    const record = (id: string) => ({ id, data: '{}', source: '{}', ingestedAt: 'now' });
    batch = addToBatch(batch, { row: 1, record: record('a') });
    expect(batch.values).toBeUndefined();
    batch = addToBatch(batch, { row: 2, record: record('b'), value: { x: 1 } });
    expect(batch.values).toEqual([undefined, { x: 1 }]);
    expect(batch.lastRow).toBe(2);
  });
});
