import parsePhoneNumber, { type CountryCode } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import { nanpFastPath } from '../../../src/quality/rules/phone-fast.js';
import { compileRules } from '../../../src/quality/rules/compile-rules.js';

/** The library's own answer: E.164 text when valid, false otherwise. */
function library(text: string, country: CountryCode | undefined): string | false {
  const parsed = parsePhoneNumber(text, country === undefined ? undefined : { defaultCountry: country });
  return parsed?.isValid() ? parsed.number : false;
}

/** A small deterministic generator (high bits only: an LCG's low bits repeat quickly). */
function generator(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

const SEPARATORS = ['', '-', '.', ' '];

/** North American spellings: every area code, random exchanges and lines, every shape the fast path reads. */
function spellings(seed: number, perArea: number): string[] {
  const pick = generator(seed);
  const out: string[] = [];
  for (let area = 200; area <= 999; area++) {
    for (let k = 0; k < perArea; k++) {
      const exchange = String(pick(1000)).padStart(3, '0');
      const line = String(pick(10_000)).padStart(4, '0');
      const sep = SEPARATORS[pick(SEPARATORS.length)]!;
      switch (pick(4)) {
        case 0: out.push(`(${area})${sep === '-' ? ' ' : ''}${exchange}${sep}${line}`); break;
        case 1: out.push(`+1${sep}${area}${sep}${exchange}${sep}${line}`); break;
        case 2: out.push(`+1(${area})${exchange}-${line}`); break;
        default: out.push(`${area}${sep}${exchange}${sep}${line}`);
      }
    }
  }
  return out;
}

describe('phone fast path', () => {
  it('gives exactly the library answer for North American numbers, valid and invalid, for each default country', () => {
    let decided = 0;
    let valid = 0;
    for (const [i, country] of (['US', 'CA', 'JM', 'AG', 'PR', undefined] as const).entries()) {
      const fast = nanpFastPath(country)!;
      for (const text of spellings(17 + i, country === 'US' ? 8 : 3)) {
        const quick = fast(text);
        if (quick === undefined) continue;
        decided++;
        if (quick !== false) valid++;
        expect([text, country, quick]).toEqual([text, country, library(text, country)]);
      }
    }
    // The comparison covered both answers in number, not only one of them.
    expect(decided).toBeGreaterThan(12_000);
    expect(valid).toBeGreaterThan(3_000);
    expect(decided - valid).toBeGreaterThan(3_000);
  });

  it('leaves every other shape and every default country outside +1 to the library', () => {
    const fast = nanpFastPath('US')!;
    for (const text of ['1-201-555-0123', '12015550123', '011 44 20 7946 0958', '+44 20 7946 0958', '201-555-0123 ext. 7', 'call 201-555-0123', ' 201-555-0123', '555-0123', '(201)-555-0123', '+1 (201) 555-0123 x2']) {
      expect(fast(text)).toBeUndefined();
    }
    expect(nanpFastPath('GB')).toBeUndefined();
    expect(nanpFastPath(undefined)!('201-555-0123')).toBeUndefined();
  });

  it('the phone step answers as before for fast and slow values alike', () => {
    const rules = compileRules([{ op: 'phone', field: 'p', defaultCountry: 'US' }]);
    const values = ['(201)555-0123', '+1-416-555-0199', '201.155.0123', '1-201-555-0123', '+44 20 7946 0958', 'not a phone', '+1 999 555 0123'];
    for (const p of values) {
      const expected = library(p, 'US');
      const out = rules.apply({ p });
      if (expected === false) {
        expect(out.ok).toBe(false);
        expect(!out.ok && !out.skipped && out.reason.message).toContain('is not a valid phone number (default country US)');
      } else {
        expect(out).toEqual({ ok: true, record: { p: expected } });
      }
    }
  });
});
