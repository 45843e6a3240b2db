// The cleaning hook of the file pipeline: row to record runs the project's rules on the
// parsed row, and a refused row carries its reason and its text as it arrived.
import { describe, expect, it } from 'vitest';
import type { ProjectItem } from '../../../src/domain/model.js';
import { newJob } from '../../../src/ingest/jobs.js';
import { fileRecordOrigin, rowToRecord } from '../../../src/ingest/pipeline/row-to-record.js';
import { compileCleaner } from '../../../src/quality/record-cleaner.js';

const project: ProjectItem = { id: 'p', name: 'p', createdAt: '2026-01-01T00:00:00.000Z', tableName: 't', bucketName: 'b' };
const job = { ...newJob(project, { key: 'incoming/a.csv', etag: 'e1', size: 1, fileName: 'a.csv' }), status: 'running' as const, attempts: 1 };
const rules = [
  { op: 'filter', field: 'type', exists: true },
  { op: 'trim', fields: '*' },
  { op: 'cast', field: 'n', to: 'integer' },
];
const cleaner = compileCleaner({ version: 1, rulesJson: JSON.stringify(rules) })!;
const origin = fileRecordOrigin(job, '2026-01-01T00:00:00.000Z', cleaner);

describe('row to record with cleaning rules', () => {
  it('stores the cleaned record, numbers exactly as written', () => {
    const out = rowToRecord({ row: 1, ok: true, data: '{"type":" a ","n":" 12345678901234567890 ","x":0.10000000000000000555}' }, origin);
    expect(out.kind).toBe('ok');
    if (out.kind === 'ok') expect(out.value.record.data).toBe('{"type":"a","n":12345678901234567890,"x":0.10000000000000000555}');
  });

  it('a refused row is a row error with step, rule and field, and keeps its text as it arrived', () => {
    const data = '{"type":"a","n":" 1.5 "}';
    const out = rowToRecord({ row: 4, ok: true, data }, origin);
    expect(out).toMatchObject({ kind: 'rejected', raw: data, rejection: { row: 4, code: 'rule_failed', step: 2, rule: 'cast', field: 'n' } });
  });

  it('a filtered row is skipped, not rejected', () => {
    expect(rowToRecord({ row: 5, ok: true, data: '{"n":1}' }, origin)).toEqual({ kind: 'skipped', row: 5 });
  });

  it('without rules the row text is stored as it came', () => {
    const plain = rowToRecord({ row: 1, ok: true, data: '{"a": 1}' }, fileRecordOrigin(job, '2026-01-01T00:00:00.000Z'));
    expect(plain.kind === 'ok' && plain.value.record.data).toBe('{"a": 1}');
  });
});
