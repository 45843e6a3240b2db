import { describe, expect, it } from 'vitest';
import { ElementBuffer } from '../../../src/ingest/parsers/element-buffer.js';
import { FileRejectedError } from '../../../src/ingest/parsers/index.js';
import { chunked, MiB, openError, readAll, streamOf } from './parser-test-kit.js';

const LIMIT = `is larger than the record size limit of ${MiB} bytes`;

describe('ElementBuffer', () => {
  it('joins the slices of an element once, and hands a single slice over without a copy', () => {
    const buffer = new ElementBuffer(10, () => 'element 1');
    const one = Buffer.from('abc');
    expect(buffer.finish(one)).toBe(one);
    buffer.hold(Buffer.from('ab'));
    buffer.hold(Buffer.from('cd'));
    expect(buffer.size).toBe(4);
    expect(buffer.finish(Buffer.from('e')).toString()).toBe('abcde');
    expect(buffer.size).toBe(0);
    expect(() => buffer.finish(Buffer.alloc(11))).toThrow('element 1 is larger than the record size limit of 10 bytes');
  });

  it('fails as soon as the element passes the limit, naming it', () => {
    let n = 7;
    const buffer = new ElementBuffer(4, () => `line ${n}`);
    buffer.hold(Buffer.from('abcd'));
    n = 8;
    let thrown: unknown;
    try {
      buffer.hold(Buffer.from('e'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FileRejectedError);
    expect(thrown).toMatchObject({ code: 'record_too_large', message: 'line 8 is larger than the record size limit of 4 bytes' });
  });
});

describe('record_too_large reads the same in every format', () => {
  const big = 'x'.repeat(2 * MiB);
  it.each([
    ['x.json', `[{"a":1},{"big":"${big}"}]`, 'element 2'],
    ['x.ndjson', `{"a":1}\n{"big":"${big}"}\n`, 'line 2'],
    ['x.xml', `<r><c>1</c><c>${big}</c></r>`, 'element 2'],
    ['x.csv', `a\n1\n${big}\n`, 'row 2'],
  ])('%s', async (fileName, content, what) => {
    const out = await readAll(streamOf(content), { fileName });
    expect(out.rows.filter((r) => r.ok)).toHaveLength(1);
    expect(out.error).toMatchObject({ code: 'record_too_large', message: `${what} ${LIMIT}` });
  });

  it('a file that starts with more whitespace than the limit', async () => {
    const error = await openError(chunked(`${' '.repeat(2 * MiB)}{}`, 64 * 1024), { fileName: 'x.json' });
    expect(error).toMatchObject({ code: 'record_too_large', message: `the whitespace at the start of the file ${LIMIT}` });
  });
});
