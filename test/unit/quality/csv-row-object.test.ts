// With cleaning rules, a CSV row is built as an object from its cells instead of parsing
// its JSON text: both must give the same record, whatever the header names hold.
import { describe, expect, it } from 'vitest';
import type { ProjectItem } from '../../../src/domain/model.js';
import { newJob } from '../../../src/ingest/jobs.js';
import { fileRecordOrigin, rowToRecord } from '../../../src/ingest/pipeline/row-to-record.js';
import { compileCleaner } from '../../../src/quality/record-cleaner.js';
import { readText } from '../parsers/parser-test-kit.js';

const project: ProjectItem = { id: 'p', name: 'p', createdAt: '2026-01-01T00:00:00.000Z', tableName: 't', bucketName: 'b' };
const job = { ...newJob(project, { key: 'incoming/a.csv', etag: 'e1', size: 1, fileName: 'a.csv' }), status: 'running' as const, attempts: 1 };
// A step on a field no row has: the record comes out as it was read.
const cleaner = compileCleaner({ version: 1, rulesJson: JSON.stringify([{ op: 'trim', fields: ['absent'] }]) })!;
const origin = fileRecordOrigin(job, '2026-01-01T00:00:00.000Z', cleaner);

const CSV =
  '__proto__,2,1,name,name,"a ""q"" b",constructor,ünï,empty,"x,y"\n' +
  'p1,two,one,Ann,Bob,"say ""hi""",c1,ö,,"1,2"\n' +
  '"{""a"":1}",2e3,-0,"line\nbreak",\\,\t tab ,toString,☃,,12345678901234567890\n';

describe('CSV rows built from their cells', () => {
  it('give the record their JSON text reads as, for every header and cell', async () => {
    const out = await readText(CSV, { fileName: 'a.csv' });
    const rows = out.rows.filter((r) => r.ok);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.cells).toBeDefined();
      const fromCells = rowToRecord(row, origin);
      const fromText = rowToRecord({ row: row.row, ok: true, data: row.data }, origin);
      expect(fromCells.kind).toBe('ok');
      expect(fromCells).toEqual(fromText);
      // The stored text, compared exactly (an object orders integer-like keys first either way).
      const data = fromCells.kind === 'ok' ? fromCells.value.record.data : '';
      expect(data).toBe(fromText.kind === 'ok' ? fromText.value.record.data : undefined);
      expect(Object.keys(JSON.parse(data) as object)).toContain('__proto__');
    }
  });
});
