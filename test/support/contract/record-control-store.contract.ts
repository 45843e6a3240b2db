// The behaviour every record and control store must show, whatever its engine (DynamoDB
// on AWS and DynamoDB Local, SQLite in embedded mode), so that the two modes cannot be
// told apart through the API. Run by test/integration/storage-contract.test.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ITEM_BYTES, storedRecordSize } from '../../../src/domain/record-builder.js';
import type { ApiKeyItem, JobItem, ProjectItem, StoredRecord } from '../../../src/domain/model.js';
import type { ControlStore, RateCounterStore, RecordStore } from '../../../src/storage/ports.js';
import { appErrorCode, freshName, rejectionOf } from './contract-helpers.js';

export interface RecordAndControlStoreFixture {
  records: RecordStore;
  /** A control store over a fresh table of its own, its table already ensured. */
  control: ControlStore;
  /** Rate counters in the same store, on the given clock. */
  rateCounters(now: () => number): RateCounterStore;
  close(): Promise<void>;
  /** Stores of the same engine whose storage does not answer (an outage). */
  unavailable(): Promise<{ records: RecordStore; control: ControlStore; close(): Promise<void> }>;
}

const INGESTED_AT = '2026-02-03T04:05:06.789Z';

function record(id: string, data: string): StoredRecord {
  return { id, data, source: '{"type":"api","index":0}', ingestedAt: INGESTED_AT };
}

async function allRecords(records: RecordStore, table: string, limit: number) {
  const pages: StoredRecord[][] = [];
  let afterId: string | undefined;
  do {
    const page = await records.listRecords(table, { limit, afterId });
    pages.push(page.items);
    afterId = page.lastId;
  } while (afterId !== undefined && pages.length < 1000);
  return { pages, items: pages.flat() };
}

function project(id: string): ProjectItem {
  return { id, name: `Project ${id}`, createdAt: INGESTED_AT, tableName: `t-${id}-records`, bucketName: `t-${id}` };
}

function apiKey(id: string, projectId: string, createdAt: string): ApiKeyItem {
  return { id, projectId, name: `key ${id}`, hash: 'a'.repeat(64), scopes: ['records:read'], createdAt };
}

function job(projectId: string, id: string, createdAt: string): JobItem {
  return {
    id,
    projectId,
    fileId: `file-${id}`,
    fileName: 'people.csv',
    bucket: 'b',
    objectKey: `incoming/file-${id}/people.csv`,
    etag: '"etag"',
    status: 'queued',
    format: null,
    bytesTotal: 100,
    bytesRead: 0,
    rowsRead: 0,
    recordsWritten: 0,
    rowsRejected: 0,
    checkpointRow: 0,
    errors: [],
    notices: [],
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  };
}

const at = (offsetSeconds: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + offsetSeconds * 1000).toISOString();

export function describeRecordAndControlStoreContract(
  name: string,
  factory: () => Promise<RecordAndControlStoreFixture>,
): void {
  describe(`RecordStore and ControlStore contract: ${name}`, () => {
    let fixture: RecordAndControlStoreFixture;
    let records: RecordStore;
    let control: ControlStore;

    beforeAll(async () => {
      fixture = await factory();
      ({ records, control } = fixture);
    });
    afterAll(async () => fixture?.close());

    describe('RecordStore', () => {
      let table: string;
      beforeAll(async () => {
        table = freshName('ct-records');
        await records.ensureTable(table);
      });

      it('ensureTable is idempotent, even when raced', async () => {
        await Promise.all([records.ensureTable(table), records.ensureTable(table)]);
        const raced = freshName('ct-race');
        await Promise.all([records.ensureTable(raced), records.ensureTable(raced), records.ensureTable(raced)]);
        await records.putRecords(raced, [record('r1', '{}')]);
        expect(await records.getRecord(raced, 'r1')).toEqual(record('r1', '{}'));
      });

      it('writes more than 25 records, duplicates included, and reads each back exactly', async () => {
        const batch: StoredRecord[] = [];
        for (let i = 0; i < 60; i++) batch.push(record(`bulk-${String(i).padStart(3, '0')}`, `{"i":${i},"big":12345678901234567890}`));
        // Within one chunk of 25 the later write of an id wins, as PutItem would.
        batch[10] = record('dup-in-chunk', '{"v":"first"}');
        batch[11] = record('dup-in-chunk', '{"v":"second"}');
        // Across chunks written in parallel the order is not promised; one of them is stored.
        batch[30] = record('dup-across', '{"v":"A"}');
        batch[55] = record('dup-across', '{"v":"B"}');
        await records.putRecords(table, batch);

        const distinct = new Set(batch.map((r) => r.id));
        const { items } = await allRecords(records, table, 1000);
        expect(new Set(items.map((r) => r.id))).toEqual(distinct);
        expect(items).toHaveLength(distinct.size);
        expect(await records.getRecord(table, 'dup-in-chunk')).toEqual(record('dup-in-chunk', '{"v":"second"}'));
        expect(['{"v":"A"}', '{"v":"B"}']).toContain((await records.getRecord(table, 'dup-across'))?.data);
        expect(await records.getRecord(table, 'bulk-042')).toEqual(batch[42]);
      });

      it('rewrites a record with the same id instead of adding one', async () => {
        await records.putRecords(table, [record('same', '{"v":1}')]);
        await records.putRecords(table, [record('same', '{"v":2}')]);
        expect((await records.getRecord(table, 'same'))?.data).toBe('{"v":2}');
      });

      it('accepts an empty batch', async () => {
        await expect(records.putRecords(table, [])).resolves.toBeUndefined();
      });

      it('stores a record of exactly the size the service allows', async () => {
        const base = record('at-the-limit-0000000000000', '');
        // Multi-byte characters make sure the size is counted in UTF-8 bytes, as DynamoDB does.
        const head = '{"s":"ü😀';
        const fill = MAX_ITEM_BYTES - storedRecordSize({ ...base, data: `${head}"}` });
        const atLimit = { ...base, data: `${head}${'x'.repeat(fill)}"}` };
        expect(storedRecordSize(atLimit)).toBe(MAX_ITEM_BYTES);
        await records.putRecords(table, [atLimit]);
        expect(await records.getRecord(table, atLimit.id)).toEqual(atLimit);
      });

      it('refuses a record one byte over the limit with record_too_large, storing nothing of its batch', async () => {
        const base = record('over-the-limit-00000000000', '');
        const fill = MAX_ITEM_BYTES + 1 - storedRecordSize({ ...base, data: '{"s":""}' });
        const over = { ...base, data: `{"s":"${'y'.repeat(fill)}"}` };
        expect(storedRecordSize(over)).toBe(MAX_ITEM_BYTES + 1);
        const error = await rejectionOf(records.putRecords(table, [record('beside-over', '{}'), over]));
        expect(appErrorCode(error)).toBe('record_too_large');
        expect(await records.getRecord(table, over.id)).toBeNull();
        expect(await records.getRecord(table, 'beside-over')).toBeNull();
      });

      it('deleteTable drops the table with its records; again is harmless; the name can be made anew, empty', async () => {
        const doomed = freshName('ct-doomed');
        await records.ensureTable(doomed);
        await records.putRecords(doomed, [record('d1', '{}'), record('d2', '{}')]);
        await records.deleteTable(doomed);
        await records.deleteTable(doomed);
        await records.ensureTable(doomed);
        expect((await records.listRecords(doomed, { limit: 10 })).items).toEqual([]);
        expect(await records.getRecord(doomed, 'd1')).toBeNull();
        expect(await records.getRecord(table, 'r1')).not.toBeUndefined();
        await records.deleteTable(doomed);
      });

      it('answers getRecord with null for an unknown id', async () => {
        expect(await records.getRecord(table, 'no-such-record')).toBeNull();
      });

      it('deleteRecord removes one record and returns it as it was; null for an unknown id', async () => {
        await records.putRecords(table, [record('del-1', '{"a":1}'), record('del-2', '{"b":2}')]);
        expect(await records.deleteRecord(table, 'del-1')).toEqual(record('del-1', '{"a":1}'));
        expect(await records.getRecord(table, 'del-1')).toBeNull();
        expect(await records.getRecord(table, 'del-2')).toEqual(record('del-2', '{"b":2}'));
        expect(await records.deleteRecord(table, 'del-1')).toBeNull();
        expect(await records.deleteRecord(table, 'no-such-record')).toBeNull();
      });

      it('pages with afterId, every record exactly once', async () => {
        const paged = freshName('ct-paged');
        await records.ensureTable(paged);
        const batch = Array.from({ length: 73 }, (_, i) => record(`p-${i}`, `{"i":${i}}`));
        await records.putRecords(paged, batch);
        const { pages, items } = await allRecords(records, paged, 25);
        expect(pages.length).toBeGreaterThanOrEqual(3);
        for (const page of pages) expect(page.length).toBeLessThanOrEqual(25);
        expect(items.map((r) => r.id).sort()).toEqual(batch.map((r) => r.id).sort());
        const single = await records.listRecords(paged, { limit: 1 });
        expect(single.items).toHaveLength(1);
        expect(single.lastId).toBe(single.items[0]!.id);
      });
    });

    describe('ControlStore: projects', () => {
      const ids = ['p-one', 'p-two', 'p-three', 'p-four', 'p-five'];
      beforeAll(async () => {
        for (const id of ids) await control.createProject(project(id));
      });

      it('creates and reads a project', async () => {
        expect(await control.getProject('p-one')).toEqual(project('p-one'));
        expect(await control.getProject('p-none')).toBeNull();
      });

      it('refuses a second project with the same id with project_exists, keeping the first', async () => {
        const error = await rejectionOf(control.createProject({ ...project('p-one'), name: 'Impostor' }));
        expect(appErrorCode(error)).toBe('project_exists');
        expect((await control.getProject('p-one'))?.name).toBe('Project p-one');
      });

      it('lets exactly one of two racing creations win', async () => {
        const results = await Promise.allSettled([control.createProject(project('p-race')), control.createProject(project('p-race'))]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(appErrorCode(lost.reason)).toBe('project_exists');
      });

      it('lists projects in pages, each exactly once', async () => {
        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        do {
          const page = await control.listProjects({ limit: 2, after });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items.map((p) => p.id));
          after = page.next;
          pages++;
        } while (after !== undefined && pages < 50);
        // Pages follow the project id order on every engine.
        expect(seen).toEqual([...ids, 'p-race'].sort());
      });
    });

    describe('ControlStore: changing and removing projects', () => {
      it('updates name and allowlist; an empty allowlist clears it; unknown project: null', async () => {
        await control.createProject({ ...project('u-one'), allowedIps: ['10.0.0.0/8'] });
        const renamed = await control.updateProject('u-one', { name: 'Renamed' });
        expect(renamed).toEqual({ ...project('u-one'), name: 'Renamed', allowedIps: ['10.0.0.0/8'] });
        expect(await control.updateProject('u-one', { allowedIps: ['::1', '192.0.2.1'] })).toMatchObject({ allowedIps: ['::1', '192.0.2.1'] });
        const cleared = await control.updateProject('u-one', { allowedIps: [] });
        expect(cleared?.allowedIps).toBeUndefined();
        expect(await control.getProject('u-one')).toEqual({ ...project('u-one'), name: 'Renamed' });
        expect(await control.updateProject('u-missing', { name: 'x' })).toBeNull();
        expect(await control.getProject('u-missing')).toBeNull();
      });

      it('marks a project deleting once; a deleting project takes no other change', async () => {
        await control.createProject(project('u-two'));
        const deletion = { jobId: 'job-1', requestedAt: INGESTED_AT };
        expect(await control.updateProject('u-two', { deletion })).toMatchObject({ deletion });
        expect(await control.updateProject('u-two', { deletion: { jobId: 'job-2', requestedAt: INGESTED_AT } })).toBeNull();
        expect(await control.updateProject('u-two', { name: 'Late' })).toBeNull();
        expect(await control.getProject('u-two')).toEqual({ ...project('u-two'), deletion });
      });

      it('deleteProject removes the project, its keys, jobs and claims, and no other project’s; again is harmless', async () => {
        for (const id of ['u-gone', 'u-stays']) {
          await control.createProject(project(id));
          await control.createKey(apiKey(`${id.replace('-', '')}keyaaaaaaa`.slice(0, 16), id, at(1)));
          await control.createJob(job(id, `${id}-job`, at(2)));
          await control.claimIdempotencyKey(id, 'same-key', { bodyHash: id, firstSeenAt: at(3) });
        }
        await control.deleteProject('u-gone');
        await control.deleteProject('u-gone');
        expect(await control.getProject('u-gone')).toBeNull();
        expect(await control.listKeys('u-gone')).toEqual([]);
        expect(await control.getKey('ugonekeyaaaaaaa'.slice(0, 16))).toBeNull();
        expect((await control.listJobs('u-gone', { limit: 10 })).items).toEqual([]);
        expect(await control.getJob('u-gone', 'u-gone-job')).toBeNull();
        expect((await control.claimIdempotencyKey('u-gone', 'same-key', { bodyHash: 'fresh', firstSeenAt: at(4) })).bodyHash).toBe('fresh');
        expect(await control.getProject('u-stays')).toEqual(project('u-stays'));
        expect(await control.listKeys('u-stays')).toHaveLength(1);
        expect(await control.getJob('u-stays', 'u-stays-job')).not.toBeNull();
        expect((await control.claimIdempotencyKey('u-stays', 'same-key', { bodyHash: 'fresh', firstSeenAt: at(4) })).bodyHash).toBe('u-stays');
        // The id is free again.
        await control.createProject(project('u-gone'));
        expect(await control.getProject('u-gone')).toEqual(project('u-gone'));
      });
    });

    describe('ControlStore: API keys', () => {
      beforeAll(async () => {
        await control.createKey(apiKey('keyaaaaaaaaaaaa1', 'k-proj', at(1)));
        await control.createKey(apiKey('keyaaaaaaaaaaaa2', 'k-proj', at(2)));
        await control.createKey({ ...apiKey('keyaaaaaaaaaaaa3', 'k-proj', at(3)), allowedIps: ['10.0.0.0/8'], expiresAt: at(99_999) });
        await control.createKey(apiKey('keybbbbbbbbbbbb1', 'k-other', at(1)));
      });

      it('creates and reads a key as given', async () => {
        expect(await control.getKey('keyaaaaaaaaaaaa1')).toEqual(apiKey('keyaaaaaaaaaaaa1', 'k-proj', at(1)));
        expect(await control.getKey('keyaaaaaaaaaaaa3')).toMatchObject({ allowedIps: ['10.0.0.0/8'], expiresAt: at(99_999) });
        expect(await control.getKey('nokeyxxxxxxxxxxx')).toBeNull();
      });

      it('refuses to create a key whose id exists', async () => {
        await expect(control.createKey(apiKey('keyaaaaaaaaaaaa1', 'k-other', at(5)))).rejects.toBeTruthy();
        expect((await control.getKey('keyaaaaaaaaaaaa1'))?.projectId).toBe('k-proj');
      });

      it('lists a project’s keys only, oldest first', async () => {
        expect((await control.listKeys('k-proj')).map((k) => k.id)).toEqual([
          'keyaaaaaaaaaaaa1',
          'keyaaaaaaaaaaaa2',
          'keyaaaaaaaaaaaa3',
        ]);
        expect((await control.listKeys('k-other')).map((k) => k.id)).toEqual(['keybbbbbbbbbbbb1']);
        expect(await control.listKeys('k-none')).toEqual([]);
      });

      it('revokes a key once, keeping the first revocation time', async () => {
        expect(await control.revokeKey('k-proj', 'keyaaaaaaaaaaaa2', at(10))).toBe(true);
        expect((await control.getKey('keyaaaaaaaaaaaa2'))?.revokedAt).toBe(at(10));
        expect(await control.revokeKey('k-proj', 'keyaaaaaaaaaaaa2', at(20))).toBe(true);
        expect((await control.getKey('keyaaaaaaaaaaaa2'))?.revokedAt).toBe(at(10));
      });

      it('refuses to revoke an unknown key or another project’s key', async () => {
        expect(await control.revokeKey('k-proj', 'nokeyxxxxxxxxxxx', at(10))).toBe(false);
        expect(await control.revokeKey('k-proj', 'keybbbbbbbbbbbb1', at(10))).toBe(false);
        expect((await control.getKey('keybbbbbbbbbbbb1'))?.revokedAt).toBeUndefined();
        expect(await control.getKey('nokeyxxxxxxxxxxx')).toBeNull();
      });
    });

    describe('ControlStore: idempotency claims', () => {
      it('keeps the first claim of a key and returns it to later claimants', async () => {
        const first = { bodyHash: 'h1', firstSeenAt: at(1) };
        expect(await control.claimIdempotencyKey('i-proj', 'order-1', first)).toEqual(first);
        expect(await control.claimIdempotencyKey('i-proj', 'order-1', { bodyHash: 'h2', firstSeenAt: at(2) })).toEqual(first);
        expect(await control.claimIdempotencyKey('i-proj', 'order-1', first)).toEqual(first);
      });

      it('keeps projects and keys apart', async () => {
        const claim = { bodyHash: 'other', firstSeenAt: at(3) };
        expect(await control.claimIdempotencyKey('i-other', 'order-1', claim)).toEqual(claim);
        expect(await control.claimIdempotencyKey('i-proj', 'order-2', claim)).toEqual(claim);
        const unicode = { bodyHash: 'u', firstSeenAt: at(4) };
        expect(await control.claimIdempotencyKey('i-proj', 'ключ 😀 '.repeat(20), unicode)).toEqual(unicode);
      });

      it('deletes the claims of given keys in one project only, counting those that existed', async () => {
        const claim = { bodyHash: 'gone', firstSeenAt: at(5) };
        for (const key of ['erase-1', 'erase-2']) await control.claimIdempotencyKey('i-erase', key, claim);
        await control.claimIdempotencyKey('i-keep', 'erase-1', claim);
        expect(await control.deleteIdempotencyClaims('i-erase', ['erase-1', 'erase-2', 'erase-1', 'never-claimed'])).toBe(2);
        expect(await control.deleteIdempotencyClaims('i-erase', ['erase-1'])).toBe(0);
        expect(await control.deleteIdempotencyClaims('i-erase', [])).toBe(0);
        const fresh = { bodyHash: 'new', firstSeenAt: at(6) };
        expect(await control.claimIdempotencyKey('i-erase', 'erase-1', fresh)).toEqual(fresh);
        expect(await control.claimIdempotencyKey('i-keep', 'erase-1', fresh)).toEqual(claim);
      });

      it('lets exactly one of racing claims win', async () => {
        const claims = Array.from({ length: 6 }, (_, i) => ({ bodyHash: `race-${i}`, firstSeenAt: at(i) }));
        const results = await Promise.all(claims.map((c) => control.claimIdempotencyKey('i-proj', 'raced', c)));
        expect(new Set(results.map((r) => r.bodyHash)).size).toBe(1);
        expect(claims.map((c) => c.bodyHash)).toContain(results[0]!.bodyHash);
      });
    });

    describe('ControlStore: ingested files (same-file check)', () => {
      const digest = (c: string) => c.repeat(64);
      it('finds nothing for unknown content, then the first file remembered, per project', async () => {
        expect(await control.findIngestedFile('s-proj', digest('a'))).toBeNull();
        await control.rememberIngestedFile('s-proj', digest('a'), { fileId: 'F1', jobId: 'J1' });
        await control.rememberIngestedFile('s-proj', digest('a'), { fileId: 'F2', jobId: 'J2' });
        expect(await control.findIngestedFile('s-proj', digest('a'))).toEqual({ fileId: 'F1', jobId: 'J1' });
        expect(await control.findIngestedFile('s-other', digest('a'))).toBeNull();
        expect(await control.findIngestedFile('s-proj', digest('b'))).toBeNull();
      });

      it('keeps one of racing remembers and answers it to every later look', async () => {
        await Promise.all([1, 2, 3, 4].map((i) => control.rememberIngestedFile('s-race', digest('c'), { fileId: `F${i}`, jobId: `J${i}` })));
        const found = await control.findIngestedFile('s-race', digest('c'));
        expect(['F1', 'F2', 'F3', 'F4']).toContain(found?.fileId);
        expect(found?.jobId).toBe(`J${found!.fileId.slice(1)}`);
      });

      it('forgets a project’s files with the project, and no other project’s', async () => {
        await control.createProject(project('s-gone'));
        await control.rememberIngestedFile('s-gone', digest('d'), { fileId: 'F1', jobId: 'J1' });
        await control.rememberIngestedFile('s-kept', digest('d'), { fileId: 'F9', jobId: 'J9' });
        await control.deleteProject('s-gone');
        expect(await control.findIngestedFile('s-gone', digest('d'))).toBeNull();
        expect(await control.findIngestedFile('s-kept', digest('d'))).toEqual({ fileId: 'F9', jobId: 'J9' });
      });
    });

    describe('ControlStore: jobs and leases', () => {
      const P = 'j-proj';

      it('creates a job once; a second create returns the stored job', async () => {
        const original = job(P, 'create-1', at(1));
        expect(await control.createJob(original)).toEqual(original);
        const again = await control.createJob({ ...original, fileName: 'changed.csv', bytesTotal: 999 });
        expect(again).toEqual(original);
        expect(await control.getJob(P, 'create-1')).toEqual(original);
        expect(await control.getJob(P, 'no-such-job')).toBeNull();
        expect(await control.getJob('j-elsewhere', 'create-1')).toBeNull();
      });

      it('leases a job to one owner; another can claim it only after the lease expires', async () => {
        await control.createJob(job(P, 'lease-1', at(2)));
        const claimed = await control.claimJob(P, 'lease-1', 'worker-a', 400);
        expect(claimed).toMatchObject({ id: 'lease-1', status: 'running', leaseOwner: 'worker-a', attempts: 1 });
        expect(claimed?.startedAt).toEqual(expect.any(String));
        expect(await control.claimJob(P, 'lease-1', 'worker-b', 10_000)).toBeNull();
        expect(await control.claimJob(P, 'lease-1', 'worker-a', 10_000)).toBeNull();
        expect((await control.getJob(P, 'lease-1'))?.leaseOwner).toBe('worker-a');

        let taken: JobItem | null = null;
        const deadline = Date.now() + 5000;
        while (!taken && Date.now() < deadline) {
          await sleep(100);
          taken = await control.claimJob(P, 'lease-1', 'worker-b', 10_000);
        }
        expect(taken).toMatchObject({ leaseOwner: 'worker-b', attempts: 2, status: 'running' });
        expect(taken?.startedAt).toBe(claimed?.startedAt);
      });

      it('lets racing creations of one job agree on the first', async () => {
        const first = job(P, 'race-create', at(7));
        const results = await Promise.all([
          control.createJob(first),
          control.createJob({ ...first, fileName: 'second.csv' }),
          control.createJob({ ...first, fileName: 'third.csv' }),
        ]);
        expect(new Set(results.map((r) => r.fileName)).size).toBe(1);
        expect((await control.getJob(P, 'race-create'))?.fileName).toBe(results[0]!.fileName);
      });

      it('lets exactly one of racing claims take the lease', async () => {
        await control.createJob(job(P, 'race-claim', at(8)));
        const owners = ['w-1', 'w-2', 'w-3', 'w-4'];
        const claims = await Promise.all(owners.map((owner) => control.claimJob(P, 'race-claim', owner, 60_000)));
        const winners = claims.filter((claim) => claim !== null);
        expect(winners).toHaveLength(1);
        expect((await control.getJob(P, 'race-claim'))?.leaseOwner).toBe(winners[0]!.leaseOwner);
      });

      it('lets only the lease owner checkpoint and finish', async () => {
        await control.createJob(job(P, 'own-1', at(3)));
        await control.claimJob(P, 'own-1', 'worker-a', 10_000);
        const progress = {
          format: 'csv',
          bytesRead: 50,
          rowsRead: 10,
          recordsWritten: 9,
          rowsRejected: 1,
          checkpointRow: 10,
          errors: [{ row: 4, code: 'bad_row', message: 'bad' }],
          notices: [],
        };
        expect(await control.checkpointJob(P, 'own-1', 'worker-b', 10_000, progress)).toBe(false);
        expect((await control.getJob(P, 'own-1'))?.rowsRead).toBe(0);
        expect(await control.checkpointJob(P, 'own-1', 'worker-a', 10_000, progress)).toBe(true);
        expect(await control.getJob(P, 'own-1')).toMatchObject({ ...progress, leaseOwner: 'worker-a' });

        const outcome = { ...progress, status: 'partial' as const, objectKey: 'processed/file-own-1/people.csv' };
        expect(await control.finishJob(P, 'own-1', 'worker-b', outcome)).toBe(false);
        expect((await control.getJob(P, 'own-1'))?.status).toBe('running');
        expect(await control.finishJob(P, 'own-1', 'worker-a', outcome)).toBe(true);
        const finished = await control.getJob(P, 'own-1');
        expect(finished).toMatchObject({ status: 'partial', objectKey: outcome.objectKey, finishedAt: expect.any(String) });
        expect(finished?.leaseOwner).toBeUndefined();
        expect(finished?.leaseExpiresAt).toBeUndefined();
        // A finished job cannot be claimed again.
        expect(await control.claimJob(P, 'own-1', 'worker-c', 10_000)).toBeNull();
        expect(await control.checkpointJob(P, 'own-1', 'worker-a', 10_000)).toBe(false);
      });

      it('checkpointing extends the lease', async () => {
        await control.createJob(job(P, 'extend-1', at(4)));
        const claimed = await control.claimJob(P, 'extend-1', 'worker-a', 1000);
        expect(await control.checkpointJob(P, 'extend-1', 'worker-a', 60_000)).toBe(true);
        const after = await control.getJob(P, 'extend-1');
        expect(after!.leaseExpiresAt!).toBeGreaterThan(claimed!.leaseExpiresAt! + 50_000);
      });

      it('releases a lease only for its owner', async () => {
        await control.createJob(job(P, 'release-1', at(5)));
        await control.claimJob(P, 'release-1', 'worker-a', 60_000);
        await control.releaseJob(P, 'release-1', 'worker-b');
        expect(await control.claimJob(P, 'release-1', 'worker-c', 60_000)).toBeNull();
        await control.releaseJob(P, 'release-1', 'worker-a');
        const released = await control.getJob(P, 'release-1');
        expect(released?.leaseOwner).toBeUndefined();
        expect(await control.claimJob(P, 'release-1', 'worker-c', 60_000)).toMatchObject({ leaseOwner: 'worker-c', attempts: 2 });
      });

      it('updates where the job’s object lives', async () => {
        await control.createJob(job(P, 'key-1', at(6)));
        await control.setJobObjectKey(P, 'key-1', 'processed/file-key-1/people.csv');
        expect((await control.getJob(P, 'key-1'))?.objectKey).toBe('processed/file-key-1/people.csv');
        await expect(control.setJobObjectKey(P, 'missing-job', 'x')).rejects.toBeTruthy();
        expect(await control.getJob(P, 'missing-job')).toBeNull();
      });

      it('lists a project’s jobs newest first, in pages, each exactly once', async () => {
        const L = 'j-list';
        const created = [3, 1, 4, 0, 2].map((n) => job(L, `list-${n}`, at(100 + n)));
        for (const j of created) await control.createJob(j);
        await control.createJob(job('j-list-other', 'list-9', at(200)));

        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        do {
          const page = await control.listJobs(L, { limit: 2, after });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items.map((j) => j.id));
          after = page.next;
          pages++;
        } while (after !== undefined && pages < 20);
        expect(seen).toEqual(['list-4', 'list-3', 'list-2', 'list-1', 'list-0']);
        expect((await control.listJobs(L, { limit: 100 })).next).toBeUndefined();
      });
    });

    describe('RateCounterStore', () => {
      let clock = Date.parse('2026-03-01T00:00:10Z');
      let counters: RateCounterStore;
      beforeAll(() => {
        counters = fixture.rateCounters(() => clock);
      });

      it('counts hits per key and window, and starts again in the next window', async () => {
        const key = freshName('rk');
        expect(await counters.get(key, 60_000)).toBeUndefined();
        expect((await counters.increment(key, 60_000)).count).toBe(1);
        const second = await counters.increment(key, 60_000);
        expect(second).toEqual({ count: 2, resetAt: new Date('2026-03-01T00:01:00Z') });
        expect((await counters.increment(`${key}-other`, 60_000)).count).toBe(1);
        expect((await counters.get(key, 60_000))?.count).toBe(2);
        clock += 60_000;
        expect(await counters.get(key, 60_000)).toBeUndefined();
        expect((await counters.increment(key, 60_000)).count).toBe(1);
      });

      it('takes hits back, never below zero, and resets', async () => {
        const key = freshName('rk');
        await counters.increment(key, 60_000);
        await counters.decrement(key, 60_000);
        await counters.decrement(key, 60_000);
        expect((await counters.get(key, 60_000))?.count).toBe(0);
        await counters.increment(key, 60_000);
        await counters.increment(key, 60_000);
        await counters.reset(key, 60_000);
        expect((await counters.get(key, 60_000))?.count).toBe(0);
        await counters.decrement(`${key}-never-seen`, 60_000);
        await counters.reset(`${key}-never-seen`, 60_000);
      });

      it('counts concurrent hits exactly', async () => {
        const key = freshName('rk');
        const counts = await Promise.all(Array.from({ length: 20 }, () => counters.increment(key, 60_000)));
        expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });
    });

    describe('when storage does not answer', () => {
      it('fails every call with storage_unavailable (503), never another error', async () => {
        const down = await fixture.unavailable();
        try {
          const calls: [string, () => Promise<unknown>][] = [
            ['putRecords', () => down.records.putRecords('lost-records', [record('r', '{}')])],
            ['getRecord', () => down.records.getRecord('lost-records', 'r')],
            ['listRecords', () => down.records.listRecords('lost-records', { limit: 5 })],
            ['getProject', () => down.control.getProject('p-one')],
            ['createJob', () => down.control.createJob(job('p-down', 'down-1', at(1)))],
            ['claimJob', () => down.control.claimJob('p-down', 'down-1', 'w', 1000)],
            ['ping', () => down.control.ping()],
          ];
          for (const [name, call] of calls) {
            const error = await rejectionOf(call());
            expect([name, appErrorCode(error), (error as { status?: number }).status]).toEqual([name, 'storage_unavailable', 503]);
          }
        } finally {
          await down.close();
        }
      });
    });

    it('answers ping', async () => {
      await expect(control.ping()).resolves.toBeUndefined();
    });
  });
}
