// The embedded store writes NDJSON export pages in SQL (listRecordLines, and by write time
// listUpdatedLinesSince); the records API writes a record's view in JavaScript (recordJson).
// An export must not depend on which one wrote it: here both write the same records,
// appended and customer records with awkward text, and must give the same bytes and the
// same paging.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyedParts, StoredRecord } from '../../src/domain/model.js';
import { recordJson } from '../../src/http/views/record.view.js';
import { SqliteDatabase } from '../../src/storage/sqlite/sqlite-database.js';
import { SqliteRecordStore } from '../../src/storage/sqlite/sqlite-record-store.js';
import { UPDATED_AFTER } from '../../src/storage/sqlite/sqlite-updated-index.js';

const AT = '2026-12-06T10:00:00.000Z';
const LATER = '2026-12-06T11:00:00.000Z';

const keyed = (key: string, version: number): KeyedParts => ({
  key,
  version,
  revision: version + 1,
  createdAt: '2026-12-01T08:30:00.000Z',
  provenance: '{"name":{"source":{"type":"push"},"at":"2026-12-01T08:30:00.000Z"}}',
  applied: '{}',
  modelVersion: 1,
  index: [],
});

// Data as sent: every digit of numbers, escapes, non-ASCII and astral characters, nesting.
const RECORDS: StoredRecord[] = [
  { id: 'a1', data: '{"big":12345678901234567890123,"price":0.1000000000000000055511151231257827,"ok":true,"none":null}', source: '{"type":"push","requestId":"r1"}', ingestedAt: AT },
  { id: 'a2', data: '{"note":"line1\\nline2, \\"quoted\\" \\u0007","city":"Zürich","emoji":"😀","tags":["a",{"b":[1,2]}]}', source: '{"type":"file","fileId":"f1","row":2}', ingestedAt: LATER },
  { id: 'k1', data: '{"email":"ada@example.com","address":{"city":"Paris"}}', source: '{"type":"push"}', ingestedAt: AT, keyed: keyed('{"email":"ada@example.com"}', 3) },
  { id: 'k2', data: '{"email":"bö@example.com","n":-0.5e10}', source: '{"type":"file","fileId":"f2","row":9}', ingestedAt: LATER, keyed: keyed('{"email":"bö@example.com","phone":"4420"}', 1) },
  { id: 'k3', data: '{}', source: '{"type":"push"}', ingestedAt: AT, keyed: keyed('{"email":"\\"q\\"@example.com"}', 12) },
];

describe('SQLite: export lines written in SQL', () => {
  let dir: string;
  let database: SqliteDatabase;
  let store: SqliteRecordStore;
  const table = 'lines-test';

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-lines-'));
    database = SqliteDatabase.open(path.join(dir, 'intake.db'), { synchronous: 'normal' });
    store = new SqliteRecordStore(database);
    await store.putRecords(table, RECORDS.filter((record) => record.keyed === undefined));
    const customers = RECORDS.filter((record) => record.keyed !== undefined);
    await store.upsertRecords(table, customers.map((record) => record.id), (id) => customers.find((record) => record.id === id)!);
  });
  afterAll(async () => {
    database?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes each record as the records view does, byte for byte', async () => {
    const page = await store.listRecordLines(table, { limit: 100 });
    const expected = (await store.listRecords(table, { limit: 100 })).items.map((record) => `${recordJson(record)}\n`).join('');
    expect(page.count).toBe(RECORDS.length);
    expect(page.lastId).toBeUndefined();
    expect(page.text.toString('utf8')).toBe(expected);
    // Every line is JSON that reads back to the record's view.
    for (const line of page.text.toString('utf8').trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it.each([1, 2, 4, 5, 120])('pages as listRecords does (limit %i): same records, same positions', async (limit) => {
    let afterId: string | undefined;
    let lastLines: string | undefined;
    do {
      const lines = await store.listRecordLines(table, { limit, afterId });
      const page = await store.listRecords(table, { limit, afterId });
      expect(lines.text.toString('utf8')).toBe(page.items.map((record) => `${recordJson(record)}\n`).join(''));
      expect(lines.count).toBe(page.items.length);
      expect(lines.lastId).toBe(page.lastId);
      lastLines = lines.text.toString('utf8');
      afterId = page.lastId;
    } while (afterId !== undefined);
    expect(lastLines).toContain('"id":"k3"');
  });

  it.each([1, 2, 3, 10])('since: the write-time pages of listUpdatedSince, same records, same positions (limit %i)', async (limit) => {
    for (const since of [AT, LATER, '2026-12-06T10:30:00.000Z']) {
      let after: string | undefined;
      let seen = 0;
      do {
        const lines = await store.listUpdatedLinesSince(table, { since, limit, after });
        const page = await store.listUpdatedSince(table, { since, limit, after });
        expect(lines.text.toString('utf8')).toBe(page.items.map((record) => `${recordJson(record)}\n`).join(''));
        expect(lines.count).toBe(page.items.length);
        expect(lines.lastId).toBe(page.lastId);
        seen += lines.count;
        after = page.lastId;
      } while (after !== undefined);
      expect(seen).toBe(RECORDS.filter((record) => record.ingestedAt >= since).length);
    }
  });

  it('since: a page is read from its position in the write-time index, never scanned from `since`', async () => {
    await store.listUpdatedSince(table, { since: AT, limit: 1 });
    const plan = database.db
      .prepare(`EXPLAIN QUERY PLAN SELECT id FROM "${table}" WHERE ${UPDATED_AFTER} ORDER BY ingested_at, id LIMIT 1`)
      .all('t', 'i') as { detail: string }[];
    expect(plan.map((step) => step.detail).join(' ')).toContain('(ingested_at,id)>(?,?)');
  });

  it('since: a position from before `since` reads from `since`', async () => {
    const before = JSON.stringify(['2000-01-01T00:00:00.000Z', 'a1']);
    const lines = await store.listUpdatedLinesSince(table, { since: LATER, limit: 10, after: before });
    const page = await store.listUpdatedSince(table, { since: LATER, limit: 10, after: before });
    expect(page.items.map((record) => record.id).sort()).toEqual(['a2', 'k2']);
    expect(lines.text.toString('utf8')).toBe(page.items.map((record) => `${recordJson(record)}\n`).join(''));
  });

  it('an empty table, or a position past the end, gives an empty page', async () => {
    await store.ensureTable('lines-empty');
    expect(await store.listRecordLines('lines-empty', { limit: 10 })).toEqual({ text: Buffer.alloc(0), count: 0 });
    expect(await store.listRecordLines(table, { limit: 10, afterId: 'zz' })).toEqual({ text: Buffer.alloc(0), count: 0 });
    expect(await store.listUpdatedLinesSince(table, { since: '2027-01-01T00:00:00.000Z', limit: 10 })).toEqual({ text: Buffer.alloc(0), count: 0 });
  });
});
