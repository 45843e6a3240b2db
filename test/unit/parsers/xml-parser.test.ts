import { describe, expect, it } from 'vitest';
import { chunked, MiB, openError, readAll, readText, streamOf } from './parser-test-kit.js';

const CUSTOMERS = `<?xml version="1.0" encoding="UTF-8"?>
<!-- exported nightly -->
<customers generated="2024-05-01">
  <customer id="007" vip="true">
    <name>  Zoë &amp; Co &#233;&#xE9; </name>
    <phone type="mobile">0049 170 123</phone>
    <phone type="home">0049 30 456</phone>
    <address><city>Zürich</city><zip>08001</zip></address>
    <note><![CDATA[<b>raw</b> & unparsed]]></note>
    <empty/>
  </customer>
  <customer id="008"><name>Bob</name></customer>
</customers>
`;

describe('XML parsing', () => {
  it('turns each child of the root into a record with attributes and nested elements', async () => {
    const out = await readText(CUSTOMERS, { fileName: 'c.xml' });
    expect(out.file.format).toBe('xml');
    expect(out.error).toBeUndefined();
    expect(out.records).toEqual([
      {
        '@id': '007',
        '@vip': 'true',
        name: 'Zoë & Co éé',
        phone: [
          { '@type': 'mobile', '#text': '0049 170 123' },
          { '@type': 'home', '#text': '0049 30 456' },
        ],
        address: { city: 'Zürich', zip: '08001' },
        note: '<b>raw</b> & unparsed',
        empty: '',
      },
      { '@id': '008', name: 'Bob' },
    ]);
    expect(out.rows.map((r) => r.row)).toEqual([1, 2]);
  });

  it('gives the same rows whatever the chunk boundaries', async () => {
    const whole = await readText(CUSTOMERS, { fileName: 'c.xml' });
    for (const size of [1, 3, 16]) {
      expect((await readAll(chunked(CUSTOMERS, size), { fileName: 'c.xml' })).rows).toEqual(whole.rows);
    }
  });

  it('keeps quoted ">" and "<" in attribute values inside the element', async () => {
    const out = await readText('<r><c expr="a > b" alt=\'x &lt; y\'><v>1</v></c></r>', { fileName: 'c.xml' });
    expect(out.records).toEqual([{ '@expr': 'a > b', '@alt': 'x < y', v: '1' }]);
  });

  it('makes text-only and empty elements objects', async () => {
    const out = await readText('<list><item>alpha</item><item/><item></item></list>', { fileName: 'c.xml' });
    expect(out.rows.map((r) => r.ok && r.data)).toEqual(['{"#text":"alpha"}', '{}', '{}']);
  });

  it('yields nothing for a root without children', async () => {
    for (const doc of ['<customers/>', '<customers>\n</customers>']) {
      const out = await readText(doc, { fileName: 'c.xml' });
      expect(out.rows).toEqual([]);
      expect(out.error).toBeUndefined();
    }
  });

  it.each([
    ['an internal DTD', '<?xml version="1.0"?><!DOCTYPE r [<!ELEMENT r ANY>]><r><c>1</c></r>'],
    [
      'billion laughs',
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz><c>&lol2;</c></lolz>',
    ],
    ['an external entity', '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r><c>&xxe;</c></r>'],
    ['an external DTD', '<!DOCTYPE r SYSTEM "http://example.com/evil.dtd"><r><c>1</c></r>'],
    ['a lowercase doctype', '<!doctype html><r><c>1</c></r>'],
  ])('refuses %s before expanding anything', async (_name, doc) => {
    const error = await readText(doc, { fileName: 'c.xml' }).then(
      (out) => out.error,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'xml_doctype_forbidden' });
  });

  it('refuses an ENTITY declaration appearing inside a record, after the rows before it', async () => {
    const out = await readText('<r><c>1</c><c><!ENTITY x "y"></c><c>3</c></r>', { fileName: 'c.xml' });
    expect(out.records).toEqual([{ '#text': '1' }]);
    expect(out.error?.code).toBe('xml_doctype_forbidden');
  });

  it('leaves undeclared entities as written and never reads files', async () => {
    const out = await readText('<r><c>&xxe; &unknown; &#0; &#xD800;</c></r>', { fileName: 'c.xml' });
    expect(out.records).toEqual([{ '#text': '&xxe; &unknown; &#0; &#xD800;' }]);
  });

  it('rejects a malformed element as invalid_xml and resyncs at the next one', async () => {
    const doc = '<r><c><a>1</b></c><c><open></c><c attr=unquoted/><c>ok</c><c>fine &amp; dandy</c></r>';
    const out = await readText(doc, { fileName: 'c.xml' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => [r.row, r.ok ? 'ok' : r.code])).toEqual([
      [1, 'invalid_xml'],
      [2, 'invalid_xml'],
      [3, 'invalid_xml'],
      [4, 'ok'],
      [5, 'ok'],
    ]);
    expect(out.records).toEqual([{ '#text': 'ok' }, { '#text': 'fine & dandy' }]);
  });

  it('rejects an element left open when the root closes, then ends cleanly', async () => {
    const out = await readText('<r><c>1</c><c><name>x</name></r>', { fileName: 'c.xml' });
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'invalid_xml']);
    expect(out.error).toBeUndefined();
  });

  it.each([
    ['a truncated file', '<r><c>1</c><c>2', 1],
    ['a missing root end tag', '<r><c>1</c>', 1],
    ['a second root', '<r><c>1</c></r><r2/>', 1],
    ['a stray end tag between records', '<r><c>1</c></x><c>2</c></r>', 1],
    ['text after the root', '<r><c>1</c></r>junk', 1],
  ])('fails the file (malformed_xml) on %s, after the good rows', async (_name, doc, good) => {
    const out = await readText(doc, { fileName: 'c.xml' });
    expect(out.error?.code).toBe('malformed_xml');
    expect(out.records).toHaveLength(good);
  });

  it('keeps dangerous element and attribute names as plain data keys', async () => {
    const doc = '<r><c __proto__="a" constructor="b"><__proto__><polluted>1</polluted></__proto__><constructor>2</constructor><prototype>3</prototype><toString>4</toString></c></r>';
    const out = await readText(doc, { fileName: 'c.xml' });
    expect(out.rows).toEqual([
      {
        row: 1,
        ok: true,
        data: '{"__proto__":{"polluted":"1"},"constructor":"2","prototype":"3","toString":"4","@__proto__":"a","@constructor":"b"}',
      },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('notes text directly inside the root and children of different names', async () => {
    const out = await readText('<r>stray<a>1</a><b>2</b></r>', { fileName: 'c.xml' });
    expect(out.records).toEqual([{ '#text': '1' }, { '#text': '2' }]);
    expect(out.file.notices.join('\n')).toMatch(/directly inside the root/);
    expect(out.file.notices.join('\n')).toMatch(/<a>, <b>/);
  });

  it('fails the file when one element passes maxRecordBytes, after the rows before it', async () => {
    const out = await readAll(streamOf('<r><c>1</c><c>', 'x'.repeat(2 * MiB), '</c><c>3</c></r>'), { fileName: 'c.xml' });
    expect(out.records).toEqual([{ '#text': '1' }]);
    expect(out.error?.code).toBe('record_too_large');
  });

  it('is sniffed from "<" without a name', async () => {
    const out = await readText('\n  <r><c>1</c></r>');
    expect(out.file.format).toBe('xml');
    expect(out.records).toEqual([{ '#text': '1' }]);
  });

  it('rejects a DOCTYPE at the very start of an unnamed file', async () => {
    const out = await readText('<!DOCTYPE x><x/>');
    expect(out.error?.code).toBe('xml_doctype_forbidden');
    expect(out.rows).toEqual([]);
  });

  it('does not take a DOCTYPE inside CDATA or a comment for a declaration', async () => {
    const out = await readText('<r><!-- <!DOCTYPE x> --><c><![CDATA[<!DOCTYPE y>]]></c></r>', { fileName: 'c.xml' });
    expect(out.error).toBeUndefined();
    expect(out.records).toEqual([{ '#text': '<!DOCTYPE y>' }]);
  });

  it('rejects an unsupported first byte', async () => {
    const error = await openError(streamOf('hello world'));
    expect(error.code).toBe('unsupported_format');
  });

  it('rejects an element holding invalid UTF-8 after a valid start', async () => {
    const head = `<r>${'<c>ü</c>'.repeat(8000)}`;
    const bad = Buffer.concat([Buffer.from('<c>caf'), Buffer.from([0xe9]), Buffer.from('</c><c>ok</c></r>')]);
    const out = await readAll(streamOf(head, bad), { fileName: 'c.xml' });
    expect(out.rows).toHaveLength(8002);
    expect(out.rejected).toEqual([{ row: 8001, ok: false, code: 'invalid_encoding', message: expect.any(String) }]);
    expect(out.records.at(-1)).toEqual({ '#text': 'ok' });
  });

  it('reads a UTF-16 XML file with a BOM', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<?xml version="1.0" encoding="UTF-16"?><r><c n="é">日本</c></r>', 'utf16le')]);
    const out = await readAll(streamOf(bytes));
    expect(out.file).toMatchObject({ format: 'xml', encoding: 'utf-16le' });
    expect(out.records).toEqual([{ '@n': 'é', '#text': '日本' }]);
  });

  it('rejects an absurdly deep element row by row and goes on', async () => {
    const deep = `<c>${'<d>'.repeat(5000)}x${'</d>'.repeat(5000)}</c>`;
    const out = await readText(`<r><c>1</c>${deep}<c>3</c></r>`, { fileName: 'c.xml' });
    expect(out.error).toBeUndefined();
    expect(out.rows.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'too_deep', 'ok']);
  });
});
