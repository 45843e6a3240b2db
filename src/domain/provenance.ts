/**
 * Per-field provenance of a customer's record: for each top-level field, the source that
 * last set it and when (under `first`, also the latest later source that carried it).
 *
 * Stored compactly: a record's fields are mostly set together, by one push or one file
 * row, so each distinct (source, time) is written once and fields point at it:
 *   {"v":2,"sources":[{"source":{...},"at":"..."}],"fields":{"email":0,"name":[0,1]}}
 * (a number is the setting source; a pair is [setting, last seen]). Written out in full a
 * file row's source repeated for each of 12 fields made a record four times its data's
 * size, and every write of the record paid for it. Records written before this form keep
 * the plain map `{field: {source, at, lastSeen?}}`, which is read as well.
 */

export interface ProvenanceEntry {
  /** The source as JSON text. */
  source: string;
  at: string;
  /** Under `first`: the latest later write that carried the field (it changed nothing). */
  lastSeen?: { source: string; at: string };
}

interface StoredSource {
  source: unknown;
  at: string;
}

interface CompactProvenance {
  v: 2;
  sources: StoredSource[];
  fields: Record<string, number | [number, number]>;
}

function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // `__proto__` is an ordinary field name in a record: assigning it would set the prototype.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

const isCompact = (value: unknown): value is CompactProvenance =>
  typeof value === 'object' && value !== null && (value as { v?: unknown }).v === 2;

/** The stored provenance text (either form) as a map of field to entry. */
export function readProvenance(text: string): Record<string, ProvenanceEntry> {
  const parsed: unknown = JSON.parse(text);
  const out: Record<string, ProvenanceEntry> = {};
  if (isCompact(parsed)) {
    // Fields set by one source share one entry object: entries are replaced, never changed.
    const sources: ProvenanceEntry[] = parsed.sources.map((s) => ({ source: JSON.stringify(s.source), at: s.at }));
    for (const field of Object.keys(parsed.fields)) {
      const ref = parsed.fields[field]!;
      const entry = typeof ref === 'number' ? sources[ref]! : { ...sources[ref[0]]!, lastSeen: sources[ref[1]]! };
      setOwn(out, field, entry);
    }
    return out;
  }
  const plain = parsed as Record<string, { source: unknown; at: string; lastSeen?: { source: unknown; at: string } }>;
  for (const field of Object.keys(plain)) {
    const entry = plain[field]!;
    const next: ProvenanceEntry = { source: JSON.stringify(entry.source), at: entry.at };
    if (entry.lastSeen) next.lastSeen = { source: JSON.stringify(entry.lastSeen.source), at: entry.lastSeen.at };
    setOwn(out, field, next);
  }
  return out;
}

/** The compact stored text of a provenance map; the source texts are embedded as they are. */
export function writeProvenance(provenance: Record<string, ProvenanceEntry>): string {
  const index = new Map<string, number>();
  const sources: string[] = [];
  // Fields set by one write share its entry object, so most lookups end at the first map.
  const byEntry = new Map<object, number>();
  const ref = (source: string, at: string): number => {
    const id = `${at}\u0000${source}`;
    let i = index.get(id);
    if (i === undefined) {
      i = sources.length;
      index.set(id, i);
      sources.push(`{"source":${source},"at":${JSON.stringify(at)}}`);
    }
    return i;
  };
  const fields: string[] = [];
  for (const field of Object.keys(provenance)) {
    const entry = provenance[field]!;
    let set = byEntry.get(entry);
    if (set === undefined) {
      set = ref(entry.source, entry.at);
      byEntry.set(entry, set);
    }
    const value = entry.lastSeen ? `[${set},${ref(entry.lastSeen.source, entry.lastSeen.at)}]` : String(set);
    fields.push(`${JSON.stringify(field)}:${value}`);
  }
  return `{"v":2,"sources":[${sources.join(',')}],"fields":{${fields.join(',')}}}`;
}

/** The public form, `{field: {source, at, lastSeen?}}`, as JSON text, from either stored form. */
export function provenanceJson(text: string): string {
  const provenance = readProvenance(text);
  const parts = Object.keys(provenance).map((field) => {
    const entry = provenance[field]!;
    const seen = entry.lastSeen ? `,"lastSeen":{"source":${entry.lastSeen.source},"at":${JSON.stringify(entry.lastSeen.at)}}` : '';
    return `${JSON.stringify(field)}:{"source":${entry.source},"at":${JSON.stringify(entry.at)}${seen}}`;
  });
  return `{${parts.join(',')}}`;
}
