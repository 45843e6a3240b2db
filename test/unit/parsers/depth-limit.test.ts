// A record nested past the depth limit is rejected alone (too_deep, the limit in the
// message) in every file format, however deep it is, and the rows around it are read.
// The deep record's bytes are never held, so even a million levels is a row rejection
// rather than a file failed for the record's size.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_RECORD_DEPTH } from '../../../src/ingest/parsers/depth-guard.js';
import { chunked, readAll, readText } from './parser-test-kit.js';

const DEPTHS = [100, 4_000, 4_300, 10_000, 1_000_000];

const jsonDeep = (levels: number) => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
const xmlDeep = (levels: number) => `<c>${'<d>'.repeat(levels - 1)}x${'</d>'.repeat(levels - 1)}</c>`;

const FORMATS = {
  ndjson: { name: 'd.ndjson', doc: (deep: string) => `{"n":1}\n${deep}\n{"n":3}\n`, deep: jsonDeep },
  json: { name: 'd.json', doc: (deep: string) => `[{"n":1},${deep},{"n":3}]`, deep: jsonDeep },
  xml: { name: 'd.xml', doc: (deep: string) => `<r><c><n>1</n></c>${deep}<c><n>3</n></c></r>`, deep: xmlDeep },
} as const;

describe('records nested past the depth limit', () => {
  for (const [format, f] of Object.entries(FORMATS)) {
    for (const depth of DEPTHS) {
      it(`${format}: a record ${depth} levels deep is a too_deep row; the rows around it are read`, async () => {
        const out = await readText(f.doc(f.deep(depth)), { fileName: f.name });
        expect(out.error).toBeUndefined();
        expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'too_deep', 'ok']);
        expect(out.rejected[0]!.message).toContain(`deeper than ${DEFAULT_MAX_RECORD_DEPTH} levels`);
        expect(out.rejected[0]!.row).toBe(2);
        expect(out.records).toHaveLength(2);
      });
    }

    it(`${format}: the limit holds across chunk boundaries, and a record at the limit is kept`, async () => {
      const atLimit = f.deep(DEFAULT_MAX_RECORD_DEPTH);
      const past = f.deep(DEFAULT_MAX_RECORD_DEPTH + 1);
      for (const size of [1, 7, 64]) {
        const out = await readAll(chunked(f.doc(past), size), { fileName: f.name });
        expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'too_deep', 'ok']);
        const kept = await readAll(chunked(f.doc(atLimit), size), { fileName: f.name });
        expect(kept.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'ok', 'ok']);
      }
    });
  }

  it('takes its limit from the options', async () => {
    const out = await readText(FORMATS.json.doc(jsonDeep(11)), { fileName: 'd.json', maxDepth: 10 });
    expect(out.rejected[0]).toMatchObject({ code: 'too_deep', message: expect.stringContaining('deeper than 10 levels') });
  });

  it('ndjson: a too-deep last line without a newline is still a row', async () => {
    const out = await readText(`{"n":1}\n${jsonDeep(5000)}`, { fileName: 'd.ndjson' });
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'too_deep']);
  });
});
