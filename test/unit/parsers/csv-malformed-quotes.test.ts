// A quoted CSV cell with unescaped inner quotes is read as spreadsheet tools read it
// (enclosing quotes removed, inner quotes kept) and the file's notices name its rows;
// a cell whose value truly starts with a quote (written escaped) is left as it is.
import { describe, expect, it } from 'vitest';
import { chunked, readAll, readText } from './parser-test-kit.js';

describe('malformed quoted CSV cells', () => {
  it('strips the enclosing quotes, keeps the inner ones and names the rows in a notice', async () => {
    const csv = 'id,text,x\n1,"He said "clean it" today",x\n2,plain,y\n3,"a "b" c",z\n';
    const out = await readText(csv, { fileName: 'q.csv' });
    expect(out.records).toEqual([
      { id: '1', text: 'He said "clean it" today', x: 'x' },
      { id: '2', text: 'plain', x: 'y' },
      { id: '3', text: 'a "b" c', x: 'z' },
    ]);
    const notice = out.file.notices.find((n) => n.includes('unescaped quotes'));
    expect(notice).toMatch(/^rows 1, 3: /);
  });

  it('leaves well-formed quoted cells alone, also those whose value starts with a quote', async () => {
    const csv = 'id,text\n1,"""x"""\n2,"a ""b"" c"\n3,5\'11"\n';
    for (const size of [3, 1000]) {
      const out = await readAll(chunked(csv, size), { fileName: 'q.csv' });
      expect(out.records).toEqual([
        { id: '1', text: '"x"' },
        { id: '2', text: 'a "b" c' },
        { id: '3', text: '5\'11"' },
      ]);
      expect(out.file.notices.some((n) => n.includes('unescaped quotes'))).toBe(false);
    }
  });

  it('bounds the rows a notice names', async () => {
    const csv = 'id,text\n' + Array.from({ length: 25 }, (_, i) => `${i},"a "b" c"\n`).join('');
    const out = await readText(csv, { fileName: 'q.csv' });
    expect(out.file.notices.find((n) => n.includes('unescaped quotes'))).toMatch(/^rows 1, 2, .* 20 and 5 more: /);
  });
});
