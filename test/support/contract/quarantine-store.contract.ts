// What every quarantine store must do, whatever its engine (items in the DynamoDB control
// table, a table in the embedded SQLite database). Run by test/integration/storage-contract.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileEntryId, type QuarantineEntry } from '../../../src/quality/quarantine/quarantine-entry.js';
import type { QuarantineStore } from '../../../src/storage/ports.js';
import { freshName } from './contract-helpers.js';

export interface QuarantineStoreFixture {
  store: QuarantineStore;
  close(): Promise<void>;
}

// Stores sweep on their own clock too: entries here expire around the real time.
const NOW = Date.now();

function entry(projectId: string, jobId: string, row: number, code = 'missing_key', expiresAt = NOW + 86_400_000): QuarantineEntry {
  return {
    id: fileEntryId(jobId, row),
    projectId,
    jobId,
    raw: `{"row":${row},"name":"Zoë","n":12345678901234567890}`,
    reason: { code, message: `row ${row} refused`, step: 3, rule: 'required', field: 'email' },
    source: { type: 'file', fileId: `file-${jobId}`, jobId, fileName: 'customers.csv', row },
    modelVersion: 2,
    createdAt: new Date(NOW).toISOString(),
    expiresAt,
  };
}

async function listAll(store: QuarantineStore, projectId: string, options: { jobId?: string; code?: string; limit: number; now?: number }) {
  const pages: QuarantineEntry[][] = [];
  let after: string | undefined;
  do {
    const page = await store.listEntries(projectId, { ...options, after, now: options.now ?? NOW });
    pages.push(page.items);
    after = page.next;
  } while (after !== undefined && pages.length < 100);
  return { pages, items: pages.flat() };
}

export function describeQuarantineStoreContract(name: string, factory: () => Promise<QuarantineStoreFixture>): void {
  describe(`QuarantineStore contract: ${name}`, () => {
    let fixture: QuarantineStoreFixture;
    beforeAll(async () => {
      fixture = await factory();
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('lists entries in id order, page by page, with their input and reason as written', async () => {
      const projectId = freshName('qp');
      const written = [5, 1, 3, 2, 4].map((row) => entry(projectId, 'job-a', row));
      await fixture.store.putEntries(projectId, written);
      const { pages, items } = await listAll(fixture.store, projectId, { limit: 2 });
      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(items.map((item) => item.source.type === 'file' && item.source.row)).toEqual([1, 2, 3, 4, 5]);
      expect(items[0]).toEqual(written[1]);
      expect(items[0]!.raw).toContain('12345678901234567890');
    });

    it('filters by job and by code, and keeps projects apart', async () => {
      const projectId = freshName('qp');
      const other = freshName('qp');
      await fixture.store.putEntries(projectId, [
        entry(projectId, 'job-a', 1, 'missing_key'),
        entry(projectId, 'job-a', 2, 'invalid_json'),
        entry(projectId, 'job-b', 1, 'missing_key'),
      ]);
      await fixture.store.putEntries(other, [entry(other, 'job-a', 9, 'missing_key')]);
      const byJob = await listAll(fixture.store, projectId, { jobId: 'job-a', limit: 1 });
      expect(byJob.items.map((item) => item.reason.code).sort()).toEqual(['invalid_json', 'missing_key']);
      const byCode = await listAll(fixture.store, projectId, { code: 'missing_key', limit: 10 });
      expect(byCode.items.map((item) => item.jobId).sort()).toEqual(['job-a', 'job-b']);
      const both = await listAll(fixture.store, projectId, { jobId: 'job-b', code: 'invalid_json', limit: 10 });
      expect(both.items).toEqual([]);
      expect((await listAll(fixture.store, other, { limit: 10 })).items.map((item) => item.id)).toEqual([fileEntryId('job-a', 9)]);
    });

    it('replaces an entry written again under its id (a resumed job), never doubling it', async () => {
      const projectId = freshName('qp');
      await fixture.store.putEntries(projectId, [entry(projectId, 'job-a', 1, 'missing_key')]);
      await fixture.store.putEntries(projectId, [entry(projectId, 'job-a', 1, 'invalid_key'), entry(projectId, 'job-a', 1, 'invalid_key')]);
      const { items } = await listAll(fixture.store, projectId, { limit: 10 });
      expect(items.map((item) => item.reason.code)).toEqual(['invalid_key']);
      expect((await listAll(fixture.store, projectId, { code: 'missing_key', limit: 10 })).items).toEqual([]);
    });

    it('deletes one entry, and says when there was none', async () => {
      const projectId = freshName('qp');
      await fixture.store.putEntries(projectId, [entry(projectId, 'job-a', 1), entry(projectId, 'job-a', 2)]);
      expect(await fixture.store.deleteEntry(projectId, fileEntryId('job-a', 1))).toBe(true);
      expect(await fixture.store.deleteEntry(projectId, fileEntryId('job-a', 1))).toBe(false);
      expect(await fixture.store.deleteEntry(freshName('qp'), fileEntryId('job-a', 2))).toBe(false);
      const { items } = await listAll(fixture.store, projectId, { limit: 10 });
      expect(items.map((item) => item.id)).toEqual([fileEntryId('job-a', 2)]);
    });

    it('hides expired entries from listings and a sweep leaves the unexpired', async () => {
      const projectId = freshName('qp');
      await fixture.store.putEntries(projectId, [entry(projectId, 'job-a', 1, 'missing_key', NOW - 1), entry(projectId, 'job-a', 2)]);
      const before = await listAll(fixture.store, projectId, { limit: 10, now: NOW - 10 });
      expect(before.items).toHaveLength(2);
      await fixture.store.sweepExpired(NOW);
      const after = await listAll(fixture.store, projectId, { limit: 10 });
      expect(after.items.map((item) => item.id)).toEqual([fileEntryId('job-a', 2)]);
    });

    it('gives the replay lease to one owner at a time, until it expires or is released', async () => {
      const projectId = freshName('qp');
      const results = await Promise.all(['a', 'b', 'c'].map((owner) => fixture.store.claimReplay(projectId, owner, 1000, NOW)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const holder = ['a', 'b', 'c'][results.indexOf(true)]!;
      const other = holder === 'a' ? 'b' : 'a';
      expect(await fixture.store.claimReplay(projectId, holder, 1000, NOW + 500)).toBe(true);
      expect(await fixture.store.claimReplay(projectId, other, 1000, NOW + 1400)).toBe(false);
      // Another project's lease is its own.
      expect(await fixture.store.claimReplay(freshName('qp'), other, 1000, NOW)).toBe(true);
      // Expired: another owner takes it, and the first one's release no longer frees it.
      expect(await fixture.store.claimReplay(projectId, other, 1000, NOW + 1500)).toBe(true);
      await fixture.store.releaseReplay(projectId, holder);
      expect(await fixture.store.claimReplay(projectId, holder, 1000, NOW + 1600)).toBe(false);
      await fixture.store.releaseReplay(projectId, other);
      expect(await fixture.store.claimReplay(projectId, holder, 1000, NOW + 1600)).toBe(true);
      // The lease is no entry.
      expect((await listAll(fixture.store, projectId, { limit: 10 })).items).toEqual([]);
    });

    it('writes more entries than one batch call carries', async () => {
      const projectId = freshName('qp');
      const written = Array.from({ length: 60 }, (_, i) => entry(projectId, 'job-big', i + 1));
      await fixture.store.putEntries(projectId, written);
      const { items } = await listAll(fixture.store, projectId, { limit: 25 });
      expect(items).toHaveLength(60);
    });
  });
}
