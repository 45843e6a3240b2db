// What every export job store must do, whatever its engine (items in the DynamoDB control
// table, a table in the embedded SQLite database). Run by test/integration/storage-contract.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monotonicFactory } from 'ulid';

// Jobs made in the same millisecond still sort in the order they were made.
const ulid = monotonicFactory();
import type { ExportJob } from '../../../src/export/export-job.js';
import type { ExportJobStore } from '../../../src/storage/ports.js';
import { freshName } from './contract-helpers.js';

export interface ExportJobStoreFixture {
  store: ExportJobStore;
  close(): Promise<void>;
}

const LEASE = 30_000;

function exportJob(projectId: string, overrides: Partial<ExportJob> = {}): ExportJob {
  const at = new Date().toISOString();
  return {
    id: ulid(),
    projectId,
    format: 'csv',
    gzip: true,
    since: '2026-01-01T00:00:00.000Z',
    fields: ['email', 'address.city'],
    status: 'queued',
    records: 0,
    bytes: 0,
    parts: [],
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

export function describeExportJobStoreContract(name: string, factory: () => Promise<ExportJobStoreFixture>): void {
  describe(`ExportJobStore contract: ${name}`, () => {
    let fixture: ExportJobStoreFixture;
    beforeAll(async () => {
      fixture = await factory();
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('creates a job once, reads it back as written, and lists a project\'s jobs newest first, page by page', async () => {
      const projectId = freshName('ep');
      const jobs = [exportJob(projectId), exportJob(projectId), exportJob(projectId)];
      for (const job of jobs) expect(await fixture.store.createExport(job)).toBe(true);
      expect(await fixture.store.createExport({ ...jobs[0]!, format: 'ndjson' })).toBe(false);
      await fixture.store.createExport(exportJob(freshName('ep')));
      expect(await fixture.store.getExport(projectId, jobs[0]!.id)).toEqual(jobs[0]);
      expect(await fixture.store.getExport(projectId, 'missing')).toBeNull();
      const first = await fixture.store.listExports(projectId, { limit: 2 });
      expect(first.items.map((job) => job.id)).toEqual([jobs[2]!.id, jobs[1]!.id]);
      expect(first.next).toBeDefined();
      const second = await fixture.store.listExports(projectId, { limit: 2, after: first.next });
      expect(second.items.map((job) => job.id)).toEqual([jobs[0]!.id]);
      expect(second.next).toBeUndefined();
    });

    it('gives one lease to one owner until it expires, and the next unfinished job is the oldest', async () => {
      const projectId = freshName('ep');
      const [a, b] = [exportJob(projectId), exportJob(projectId)];
      await fixture.store.createExport(a);
      await fixture.store.createExport(b);
      expect((await fixture.store.nextUnfinishedExport(projectId))?.id).toBe(a.id);
      const now = Date.now();
      const claimed = await fixture.store.claimExport(projectId, a.id, 'one', LEASE, now);
      expect(claimed).toMatchObject({ status: 'running', attempts: 1, leaseOwner: 'one' });
      expect(await fixture.store.claimExport(projectId, a.id, 'two', LEASE, now + 1)).toBeNull();
      // Past the lease, another owner takes over: a second attempt.
      const taken = await fixture.store.claimExport(projectId, a.id, 'two', LEASE, now + LEASE + 1);
      expect(taken).toMatchObject({ leaseOwner: 'two', attempts: 2 });
      expect(await fixture.store.saveExport({ ...claimed!, records: 5 }, 'one', LEASE, now + LEASE + 2)).toBe(false);
      expect((await fixture.store.getExport(projectId, a.id))?.records).toBe(0);
      expect(await fixture.store.claimExport(projectId, 'missing', 'two', LEASE, now)).toBeNull();
    });

    it('saves progress under the lease; a finished job drops its lease, cannot be claimed, and is no longer next', async () => {
      const projectId = freshName('ep');
      const job = exportJob(projectId);
      const later = exportJob(projectId);
      await fixture.store.createExport(job);
      await fixture.store.createExport(later);
      const now = Date.now();
      const claimed = (await fixture.store.claimExport(projectId, job.id, 'one', LEASE, now))!;
      const part = { name: 'part-00000.csv.gz', key: `exports/${job.id}/part-00000.csv.gz`, records: 3, bytes: 120, sha256: 'ab'.repeat(32) };
      expect(await fixture.store.saveExport({ ...claimed, parts: [part], records: 3, bytes: 120, resumeAfter: 'r3' }, 'one', LEASE, now + 10)).toBe(true);
      const saved = await fixture.store.getExport(projectId, job.id);
      expect(saved).toMatchObject({ parts: [part], records: 3, resumeAfter: 'r3', leaseOwner: 'one', leaseExpiresAt: now + 10 + LEASE });
      expect(await fixture.store.saveExport({ ...saved!, status: 'succeeded' }, 'one', LEASE, now + 20)).toBe(true);
      const done = await fixture.store.getExport(projectId, job.id);
      expect(done?.status).toBe('succeeded');
      expect(done?.leaseOwner).toBeUndefined();
      expect(await fixture.store.claimExport(projectId, job.id, 'two', LEASE, now + 2 * LEASE)).toBeNull();
      expect((await fixture.store.nextUnfinishedExport(projectId))?.id).toBe(later.id);
      expect(await fixture.store.nextUnfinishedExport(freshName('ep'))).toBeNull();
    });

    it('removes every export job of one project, and only of that one', async () => {
      const projectId = freshName('ep');
      const other = exportJob(freshName('ep'));
      for (let i = 0; i < 3; i++) await fixture.store.createExport(exportJob(projectId));
      await fixture.store.createExport(other);
      await fixture.store.deleteExports(projectId);
      expect((await fixture.store.listExports(projectId, { limit: 10 })).items).toEqual([]);
      expect(await fixture.store.nextUnfinishedExport(projectId)).toBeNull();
      expect(await fixture.store.getExport(other.projectId, other.id)).toEqual(other);
      await fixture.store.deleteExports(projectId);
    });
  });
}
