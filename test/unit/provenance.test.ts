import { describe, expect, it } from 'vitest';
import { provenanceJson, readProvenance, writeProvenance, type ProvenanceEntry } from '../../src/domain/provenance.js';

const row = (n: number) => `{"type":"file","fileId":"f1","jobId":"j1","fileName":"crm.csv","row":${n}}`;
const push = '{"type":"push","requestId":"r1"}';

describe('stored provenance', () => {
  it('writes each distinct source once and reads back every field', () => {
    const provenance: Record<string, ProvenanceEntry> = {};
    for (const field of ['email', 'name', 'city', 'phone']) provenance[field] = { source: row(7), at: '2026-01-01T00:00:00.000Z' };
    provenance.plan = { source: push, at: '2026-01-02T00:00:00.000Z', lastSeen: { source: row(9), at: '2026-01-03T00:00:00.000Z' } };
    const text = writeProvenance(provenance);
    expect(text.split('"row":7').length - 1).toBe(1);
    expect(readProvenance(text)).toEqual(provenance);
    expect(JSON.parse(provenanceJson(text))).toEqual({
      email: { source: JSON.parse(row(7)), at: '2026-01-01T00:00:00.000Z' },
      name: { source: JSON.parse(row(7)), at: '2026-01-01T00:00:00.000Z' },
      city: { source: JSON.parse(row(7)), at: '2026-01-01T00:00:00.000Z' },
      phone: { source: JSON.parse(row(7)), at: '2026-01-01T00:00:00.000Z' },
      plan: {
        source: { type: 'push', requestId: 'r1' },
        at: '2026-01-02T00:00:00.000Z',
        lastSeen: { source: JSON.parse(row(9)), at: '2026-01-03T00:00:00.000Z' },
      },
    });
  });

  it('the same source at another time is another entry', () => {
    const text = writeProvenance({
      a: { source: push, at: '2026-01-01T00:00:00.000Z' },
      b: { source: push, at: '2026-01-01T00:00:01.000Z' },
    });
    expect((JSON.parse(text) as { sources: unknown[] }).sources).toHaveLength(2);
  });

  it('reads the plain map that records written before the compact form carry', () => {
    const old = JSON.stringify({
      email: { source: JSON.parse(row(1)), at: '2026-01-01T00:00:00.000Z' },
      v: { source: { type: 'push' }, at: '2026-01-01T00:00:00.000Z', lastSeen: { source: { type: 'push', requestId: 'x' }, at: '2026-01-02T00:00:00.000Z' } },
    });
    const read = readProvenance(old);
    expect(read.email).toEqual({ source: row(1), at: '2026-01-01T00:00:00.000Z' });
    expect(read.v!.lastSeen).toEqual({ source: '{"type":"push","requestId":"x"}', at: '2026-01-02T00:00:00.000Z' });
    expect(JSON.parse(provenanceJson(old))).toEqual(JSON.parse(old));
  });

  it('keeps a field named __proto__ as a field', () => {
    const provenance: Record<string, ProvenanceEntry> = {};
    Object.defineProperty(provenance, '__proto__', { value: { source: push, at: '2026-01-01T00:00:00.000Z' }, enumerable: true });
    const read = readProvenance(writeProvenance(provenance));
    expect(Object.keys(read)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
  });
});
