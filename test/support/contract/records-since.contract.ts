import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../../src/domain/model.js';
import { AppError } from '../../../src/errors.js';
import type { RecordStore } from '../../../src/storage/ports.js';
import { freshName } from './contract-helpers.js';

export interface RecordsSinceFixture {
  records: RecordStore;
  /** A records table as an earlier release made it (without the write-time index), holding one record "old". */
  legacyTable: () => Promise<string>;
  /** What the store answers for that table: served (the index is made on first use) or indexes_unavailable. */
  legacyAnswer: 'served' | 'indexes_unavailable';
  close: () => Promise<void>;
}

const HOUR = 3_600_000;

/** listUpdatedSince: the records written since a time, from an index on the write time. */
export function describeRecordsSinceContract(name: string, setup: () => Promise<RecordsSinceFixture>): void {
  describe(`records since a time: ${name}`, () => {
    let f: RecordsSinceFixture;
    let table: string;
    const base = Date.now() - 3 * 24 * HOUR;
    const at = (hours: number) => new Date(base + hours * HOUR).toISOString();
    const record = (id: string, hours: number): StoredRecord => ({ id, data: `{"id":"${id}"}`, source: '{"type":"test"}', ingestedAt: at(hours) });

    async function allSince(since: string, limit: number): Promise<{ ids: string[]; pages: number }> {
      const ids: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await f.records.listUpdatedSince(table, { since, limit, after });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((r) => r.id));
        after = page.lastId;
        pages++;
      } while (after !== undefined && pages < 100);
      return { ids, pages };
    }

    beforeAll(async () => {
      f = await setup();
      table = freshName('ct-since');
      await f.records.ensureTable(table);
      // Spread over four days; b and c share a write time (id breaks the tie).
      await f.records.putRecords(table, [
        record('a', 0), record('b', 20), record('c', 20), record('d', 30), record('e', 49), record('f', 60), record('g', 71),
      ]);
    });
    afterAll(async () => {
      await f?.records.deleteTable(table);
      await f?.close();
    });

    it('pages through the records written at or after the time, in (time, id) order, each once', async () => {
      for (const limit of [1, 2, 3, 100]) {
        expect((await allSince(at(20), limit)).ids).toEqual(['b', 'c', 'd', 'e', 'f', 'g']);
      }
      expect((await allSince(at(0), 100)).ids).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      expect((await allSince(at(49.5), 2)).ids).toEqual(['f', 'g']);
    });

    it('a record written again moves to its new time and is listed once', async () => {
      await f.records.putRecords(table, [record('a', 65)]);
      expect((await allSince(at(50), 2)).ids).toEqual(['f', 'a', 'g']);
      expect((await allSince(at(0), 4)).ids).toEqual(['b', 'c', 'd', 'e', 'f', 'a', 'g']);
    });

    it('answers an empty last page for a time after every write', async () => {
      const page = await f.records.listUpdatedSince(table, { since: new Date(Date.now() + HOUR).toISOString(), limit: 10 });
      expect(page).toEqual({ items: [] });
    });

    it('on a table from an earlier release: served, or indexes_unavailable', async () => {
      const legacy = await f.legacyTable();
      const answer = f.records.listUpdatedSince(legacy, { since: at(-1000), limit: 10 });
      if (f.legacyAnswer === 'served') {
        expect((await answer).items.map((r) => r.id)).toEqual(['old']);
      } else {
        const error = await answer.then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe('indexes_unavailable');
        expect((error as AppError).status).toBe(409);
      }
      await f.records.deleteTable(legacy);
    });
  });
}
