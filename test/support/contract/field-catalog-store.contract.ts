// What every field catalog store must do, whatever its engine (items in the DynamoDB control
// table, a table in the embedded SQLite database). Run by test/integration/storage-contract.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogField, FieldObservation } from '../../../src/quality/catalog/field-catalog.js';
import type { FieldCatalogStore } from '../../../src/storage/ports.js';
import { freshName } from './contract-helpers.js';

export interface FieldCatalogStoreFixture {
  store: FieldCatalogStore;
  close(): Promise<void>;
}

const T1 = '2026-01-01T00:00:00.000Z';
const T2 = '2026-01-02T00:00:00.000Z';

async function listAll(store: FieldCatalogStore, projectId: string, limit: number): Promise<{ pages: number; items: CatalogField[] }> {
  const items: CatalogField[] = [];
  let pages = 0;
  let after: string | undefined;
  do {
    const page = await store.listFields(projectId, { limit, after });
    items.push(...page.items);
    pages++;
    after = page.next;
  } while (after !== undefined && pages < 100);
  return { pages, items };
}

export function describeFieldCatalogStoreContract(name: string, factory: () => Promise<FieldCatalogStoreFixture>): void {
  describe(`FieldCatalogStore contract: ${name}`, () => {
    let fixture: FieldCatalogStoreFixture;
    beforeAll(async () => {
      fixture = await factory();
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('merges batches: counts add per type, first seen stays, last seen moves, the first example stays', async () => {
      const { store } = fixture;
      const project = freshName('fc');
      const first: FieldObservation[] = [
        { path: 'email', types: { string: 3 }, example: '"a@example.com"' },
        { path: 'address', types: { object: 2 } },
        { path: 'address.city', types: { string: 2 }, example: '"Zürich"' },
        { path: 'n', types: { number: 1 }, example: '12345678901234567890' },
      ];
      const changes1 = await store.mergeFields(project, { fields: first, at: T1 });
      expect(changes1.map((c) => c.path).sort()).toEqual(['address', 'address.city', 'email', 'n']);
      expect(changes1.every((c) => c.knownTypes.length === 0)).toBe(true);

      const changes2 = await store.mergeFields(project, {
        fields: [
          { path: 'email', types: { string: 2 }, example: '"b@example.com"' },
          { path: 'n', types: { number: 1, string: 1 }, example: '7' },
          { path: 'tags', types: { array: 1 } },
        ],
        at: T2,
      });
      expect(changes2).toEqual(
        expect.arrayContaining([
          { path: 'n', knownTypes: ['number'], newTypes: ['string'] },
          { path: 'tags', knownTypes: [], newTypes: ['array'] },
        ]),
      );
      expect(changes2).toHaveLength(2);

      const { items } = await listAll(store, project, 100);
      expect(items.map((f) => f.path)).toEqual(['address', 'address.city', 'email', 'n', 'tags']);
      const email = items.find((f) => f.path === 'email')!;
      expect(email).toEqual({ path: 'email', types: { string: 5 }, count: 5, firstSeen: T1, lastSeen: T2, example: '"a@example.com"' });
      const n = items.find((f) => f.path === 'n')!;
      expect(n.types).toEqual({ number: 2, string: 1 });
      expect(n.count).toBe(3);
      expect(n.example).toBe('12345678901234567890');
      expect(items.find((f) => f.path === 'address')!.example).toBeUndefined();
    });

    it('loses no count when merges of one field run side by side', async () => {
      const { store } = fixture;
      const project = freshName('fc-race');
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.mergeFields(project, { fields: [{ path: 'x', types: { string: 2, null: 1 } }], at: `2026-01-01T00:00:0${i}.000Z` })),
      );
      const { items } = await listAll(store, project, 10);
      expect(items).toHaveLength(1);
      expect(items[0]!.types).toEqual({ string: 20, null: 10 });
      expect(items[0]!.count).toBe(30);
    });

    it('keeps no example of a redacted field, even one stored before it was hashed', async () => {
      const { store } = fixture;
      const project = freshName('fc-red');
      await store.mergeFields(project, { fields: [{ path: 'ssn', types: { string: 1 }, example: '"123-45-6789"' }], at: T1 });
      await store.mergeFields(project, { fields: [{ path: 'ssn', types: { string: 1 }, redacted: true }], at: T2 });
      const { items } = await listAll(store, project, 10);
      expect(items).toEqual([{ path: 'ssn', types: { string: 2 }, count: 2, firstSeen: T1, lastSeen: T2, redacted: true }]);
    });

    it('pages in path order (the empty path included), keeps projects apart and deletes one project whole', async () => {
      const { store } = fixture;
      const project = freshName('fc-page');
      const other = freshName('fc-other');
      const paths = ['', 'a', 'a.b', 'b', 'c.d.e', 'z', 'Zoë'];
      await store.mergeFields(project, { fields: paths.map((path) => ({ path, types: { boolean: 1 }, example: 'true' })), at: T1 });
      await store.mergeFields(other, { fields: [{ path: 'only', types: { null: 1 }, example: 'null' }], at: T1 });
      const { pages, items } = await listAll(store, project, 2);
      expect(pages).toBe(4);
      expect(items.map((f) => f.path)).toEqual([...paths].sort());
      expect((await listAll(store, other, 10)).items.map((f) => f.path)).toEqual(['only']);
      expect(await store.mergeFields(project, { fields: [], at: T2 })).toEqual([]);

      await store.deleteFields(project);
      expect((await store.listFields(project, { limit: 10 })).items).toEqual([]);
      expect((await listAll(store, other, 10)).items).toHaveLength(1);
    });
  });
}
