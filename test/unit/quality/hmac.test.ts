import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256Hex } from '../../../src/quality/rules/hmac.js';

const reference = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('hex');

/** Texts of every kind the step hashes: ids, empty, non-ASCII, astral, lone surrogates, lengths around the scratch size. */
function texts(): string[] {
  const out = ['', 'a', 'C-000123', '5bDf9afa1babEDa', 'Zoë Ångström', '☃ snow', '😀 astral', 'lone \uD800 surrogate', 'tail \uDC00', '\u0000nul'];
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
  const alphabet = 'abcXYZ019-_ é€😀\uD83D';
  for (let i = 0; i < 2000; i++) {
    const length = next() % (i % 50 === 0 ? 1500 : 40);
    let s = '';
    for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
    out.push(s);
  }
  for (const n of [340, 341, 342, 1023, 1024, 1025]) out.push('x'.repeat(n), 'é'.repeat(n), '€'.repeat(n));
  return out;
}

describe('hmacSha256Hex', () => {
  it('gives exactly createHmac for every text, with short, block-sized and long keys', () => {
    const keys = [Buffer.alloc(32, 7), Buffer.alloc(0), Buffer.alloc(64, 1), Buffer.alloc(65, 2), Buffer.from('a secret of 100 bytes '.repeat(5))];
    const all = texts();
    for (const key of keys) {
      const hmac = hmacSha256Hex(key);
      for (const text of all) expect([text.length, hmac(text)]).toEqual([text.length, reference(key, text)]);
    }
  });

  it('a text after a longer one is hashed alone (no bytes of the longer one left over)', () => {
    const key = Buffer.alloc(32, 9);
    const hmac = hmacSha256Hex(key);
    expect(hmac('a much longer value than the next')).toBe(reference(key, 'a much longer value than the next'));
    expect(hmac('short')).toBe(reference(key, 'short'));
  });
});
