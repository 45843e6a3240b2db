// What every record store must do for customer records (keyed projects), whatever its
// engine, so the two modes cannot be told apart: read-merge-write upserts that never lose
// a concurrent write, the project model's conditional update. Run by
// test/integration/storage-contract.test.ts next to the record and control store contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyedParts, ProjectItem, StoredRecord } from '../../../src/domain/model.js';
import type { StoredModel } from '../../../src/domain/record-model.js';
import type { ControlStore, RecordStore } from '../../../src/storage/ports.js';
import { appErrorCode, freshName, rejectionOf } from './contract-helpers.js';

export interface KeyedStoreFixture {
  records: RecordStore;
  control: ControlStore;
  close(): Promise<void>;
}

const AT = '2026-02-03T04:05:06.789Z';

function keyed(id: string, data: string, revision: number, extra: Partial<KeyedParts> = {}): StoredRecord {
  return {
    id,
    data,
    source: '{"type":"api","index":0}',
    ingestedAt: AT,
    keyed: {
      key: `{"email":"${id}"}`,
      version: revision,
      revision,
      createdAt: AT,
      provenance: '{}',
      applied: '{}',
      modelVersion: 1,
      index: [],
      ...extra,
    },
  };
}

/** A merge that appends one field to the record as read: what a customer's write does. */
function addField(field: string, value: number) {
  return (id: string, current: StoredRecord | null): StoredRecord => {
    const data = current ? (JSON.parse(current.data) as Record<string, number>) : {};
    data[field] = value;
    return keyed(id, JSON.stringify(data), (current?.keyed?.revision ?? 0) + 1);
  };
}

export function describeKeyedStoreContract(name: string, factory: () => Promise<KeyedStoreFixture>): void {
  describe(`Customer records contract: ${name}`, () => {
    let fixture: KeyedStoreFixture;
    let records: RecordStore;
    let table: string;

    beforeAll(async () => {
      fixture = await factory();
      records = fixture.records;
      table = freshName('ct-keyed');
      await records.ensureTable(table);
    });
    afterAll(async () => fixture?.close());

    it('upserts: creates, then merges into the record as stored, and reads back every keyed part', async () => {
      await records.upsertRecords(table, ['c1', 'c2'], addField('a', 1));
      await records.upsertRecords(table, ['c1'], addField('b', 2));
      expect(await records.getRecord(table, 'c1')).toEqual(keyed('c1', '{"a":1,"b":2}', 2));
      expect(await records.getRecord(table, 'c2')).toEqual(keyed('c2', '{"a":1}', 1));
      const full = keyed('c3', '{"x":"ü😀"}', 1, { provenance: '{"x":{"at":"t"}}', applied: '{"file:f":7}', index: [{ field: 'x', slot: 0, value: 'ü😀' }] });
      await records.upsertRecords(table, ['c3'], () => full);
      expect(await records.getRecord(table, 'c3')).toEqual(full);
    });

    it('writes nothing for a record whose merge answers null, and sees each id once', async () => {
      const seen: string[] = [];
      await records.upsertRecords(table, ['n1', 'n1', 'n2'], (id) => {
        seen.push(id);
        return null;
      });
      expect(seen.sort()).toEqual(['n1', 'n2']);
      expect(await records.getRecord(table, 'n1')).toBeNull();
    });

    it('never loses a concurrent write: a merge made on a stale read is merged again', async () => {
      const fields = Array.from({ length: 8 }, (_, i) => `f${i}`);
      await Promise.all(fields.map((field, i) => records.upsertRecords(table, ['race'], addField(field, i))));
      const stored = await records.getRecord(table, 'race');
      expect(Object.keys(JSON.parse(stored!.data) as object).sort()).toEqual(fields);
      expect(stored!.keyed!.revision).toBe(fields.length);
    });

    it('refuses a merged record over the item limit, and leaves the stored one as it was', async () => {
      await records.upsertRecords(table, ['big'], addField('a', 1));
      const huge = keyed('big', JSON.stringify({ s: 'x'.repeat(410 * 1024) }), 2);
      expect(appErrorCode(await rejectionOf(records.upsertRecords(table, ['big'], () => huge)))).toBe('record_too_large');
      expect((await records.getRecord(table, 'big'))!.data).toBe('{"a":1}');
    });

    it('lists keyed records with their keyed parts, appended ones without', async () => {
      const mixed = freshName('ct-mixed');
      await records.ensureTable(mixed);
      await records.putRecords(mixed, [{ id: 'plain', data: '{}', source: '{}', ingestedAt: AT }]);
      await records.upsertRecords(mixed, ['cust'], addField('a', 1));
      const page = await records.listRecords(mixed, { limit: 10 });
      const byId = new Map(page.items.map((r) => [r.id, r]));
      expect(byId.get('plain')).toEqual({ id: 'plain', data: '{}', source: '{}', ingestedAt: AT });
      expect(byId.get('plain')).not.toHaveProperty('keyed');
      expect(byId.get('cust')?.keyed?.revision).toBe(1);
    });

    describe('indexes', () => {
      let indexed: string;
      const withCountry = (id: string, country: string | null, revision: number): StoredRecord =>
        keyed(id, JSON.stringify({ country }), revision, {
          index: country === null ? [] : [{ field: 'country', slot: 2, value: country }],
        });
      const query = (match: { equals: string } | { prefix: string }, limit = 100, after?: string) =>
        records.queryIndex(indexed, { field: 'country', slot: 2, match, limit, after });
      async function allPages(match: { equals: string } | { prefix: string }, limit: number) {
        const ids: string[] = [];
        let after: string | undefined;
        let pages = 0;
        do {
          const page = await query(match, limit, after);
          ids.push(...page.items.map((r) => r.id));
          after = page.lastId;
        } while (after !== undefined && ++pages < 100);
        return ids;
      }

      beforeAll(async () => {
        indexed = freshName('ct-indexed');
        await records.ensureTable(indexed);
        await records.ensureIndexes(indexed);
        const rows: [string, string | null][] = [
          ['a1', 'GB'], ['a2', 'GB'], ['a3', 'GBR'], ['a4', 'FR'], ['a5', 'GB'], ['a6', 'Gb'], ['a7', null], ['a8', 'GB'], ['a9', 'ÜK'],
        ];
        for (const [id, country] of rows) await records.upsertRecords(indexed, [id], () => withCountry(id, country, 1));
      });

      it('answers equality and prefix from the index, in (value, id) order, page by page', async () => {
        expect(await allPages({ equals: 'GB' }, 100)).toEqual(['a1', 'a2', 'a5', 'a8']);
        expect(await allPages({ equals: 'GB' }, 2)).toEqual(['a1', 'a2', 'a5', 'a8']);
        expect(await allPages({ prefix: 'GB' }, 3)).toEqual(['a1', 'a2', 'a5', 'a8', 'a3']);
        expect(await allPages({ prefix: 'G' }, 100)).toEqual(['a1', 'a2', 'a5', 'a8', 'a3', 'a6']);
        expect(await allPages({ equals: 'ÜK' }, 100)).toEqual(['a9']);
        expect(await allPages({ equals: 'US' }, 100)).toEqual([]);
        const page = await query({ equals: 'GB' }, 1);
        expect(page.items[0]).toEqual(withCountry('a1', 'GB', 1));
      });

      it('follows a record whose value changes or goes away', async () => {
        await records.upsertRecords(indexed, ['a2'], () => withCountry('a2', 'FR', 2));
        await records.upsertRecords(indexed, ['a5'], () => withCountry('a5', null, 2));
        expect(await allPages({ equals: 'GB' }, 100)).toEqual(['a1', 'a8']);
        expect(await allPages({ equals: 'FR' }, 100)).toEqual(['a2', 'a4']);
      });

      it('drops a deleted record from the index', async () => {
        await records.upsertRecords(indexed, ['a10'], () => withCountry('a10', 'DK', 1));
        expect(await allPages({ equals: 'DK' }, 100)).toEqual(['a10']);
        expect((await records.deleteRecord(indexed, 'a10'))?.keyed?.index).toEqual([{ field: 'country', slot: 2, value: 'DK' }]);
        expect(await allPages({ equals: 'DK' }, 100)).toEqual([]);
        expect(await allPages({ prefix: 'D' }, 100)).toEqual([]);
      });

      it('refuses a position it did not give out', async () => {
        expect(appErrorCode(await rejectionOf(query({ equals: 'GB' }, 10, 'not a position')))).toBe('invalid_cursor');
      });
    });

    describe('ControlStore.setProjectModel', () => {
      const model = (version: number): StoredModel => ({
        key: { fields: ['email'], normalize: { email: ['trim', 'lowercase'] } },
        merge: 'merge',
        indexes: ['country'],
        version,
        updatedAt: AT,
      });
      let project: ProjectItem;
      beforeAll(async () => {
        const id = freshName('ct-model');
        project = { id, name: id, createdAt: AT, tableName: `${id}-records`, bucketName: id };
        await fixture.control.createProject(project);
      });

      it('sets the first model only over none, and each next one only over the version it read', async () => {
        const { control } = fixture;
        expect(await control.setProjectModel(project.id, model(1), 1)).toBe(false);
        expect(await control.setProjectModel(project.id, model(1), 0)).toBe(true);
        expect(await control.setProjectModel(project.id, model(2), 0)).toBe(false);
        expect((await control.getProject(project.id))!.model).toEqual(model(1));
        expect(await control.setProjectModel(project.id, model(2), 1)).toBe(true);
        expect((await control.getProject(project.id))!.model).toEqual(model(2));
        expect(await control.setProjectModel('ct-no-such-project', model(1), 0)).toBe(false);
      });

      it('lets exactly one of two changes based on one version through', async () => {
        const { control } = fixture;
        const current = (await control.getProject(project.id))!.model!.version;
        const results = await Promise.all([
          control.setProjectModel(project.id, model(current + 1), current),
          control.setProjectModel(project.id, model(current + 1), current),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });
  });
}
