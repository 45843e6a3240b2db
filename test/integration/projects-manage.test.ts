// Changing and deleting projects through the admin API, in both modes (DynamoDB Local + the
// S3 emulator, SQLite + files). Every refused request is checked against what storage holds
// afterwards; a deletion is followed from its answer to the free id, across two "tasks"
// (two app instances over one storage, each with its own caches).
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { DELETION_JOB_NAME } from '../../src/domain/project-deletion.js';
import { queuedJobState, type JobItem } from '../../src/domain/model.js';
import { Poller } from '../../src/ingest/poller.js';
import { createServices } from '../../src/services.js';
import { createProjectWithKey, FAST_POLLER, storedRecords, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const MODES = ['aws', 'embedded'] as const;
/** A deletion answers once every task's caches have expired (5 s). */
const DELETION_TIMEOUT = 30_000;

describe.each(MODES)('managing projects (%s mode)', (mode) => {
  let t: TestApp;
  /** A second task over the same storage, with caches of its own. */
  let other: ReturnType<typeof createApp>;
  beforeAll(async () => {
    t = await createTestApp({ mode });
    const services = createServices(t.config, t.storage, t.adminToken);
    other = createApp({ config: t.config, storage: t.storage, services, logger: t.logger, metrics: t.metrics, adminToken: t.adminToken });
  });
  afterAll(async () => t?.close());

  const patch = (id: string, body: unknown, auth: object = t.admin) =>
    request(t.app).patch(`/v1/projects/${id}`).set(auth as Record<string, string>).send(body as object);
  const remove = (id: string, query: Record<string, string> = { confirm: id }, auth: object = t.admin) =>
    request(t.app).delete(`/v1/projects/${id}`).query(query).set(auth as Record<string, string>);
  const push = (app: typeof t.app, p: TestProject, body: unknown) =>
    request(app).post(`/v1/projects/${p.id}/records`).set(p.auth).send(body as object);
  const records = (app: typeof t.app, p: TestProject, auth: object = p.auth) =>
    request(app).get(`/v1/projects/${p.id}/records`).set(auth as Record<string, string>);

  async function waitUntilGone(id: string): Promise<void> {
    const deadline = Date.now() + DELETION_TIMEOUT;
    while ((await request(t.app).get(`/v1/projects/${id}`).set(t.admin)).status !== 404) {
      if (Date.now() > deadline) throw new Error(`project ${id} was not deleted in time`);
      await sleep(50);
    }
  }

  describe('PATCH /v1/projects/{id}', () => {
    it('renames and replaces the allowlist, clears it with [], is audited in storage at once', async () => {
      const p = await createProjectWithKey(t, 'pm');
      const renamed = await patch(p.id, { name: 'Acme Europe' });
      expect(renamed.status, renamed.text).toBe(200);
      expect(renamed.body).toMatchObject({ id: p.id, name: 'Acme Europe', allowedIps: [] });
      const listed = await patch(p.id, { allowedIps: ['192.0.2.0/24', '2001:db8::/32'] });
      expect(listed.body).toMatchObject({ name: 'Acme Europe', allowedIps: ['192.0.2.0/24', '2001:db8::/32'] });
      expect((await t.storage.control.getProject(p.id))?.allowedIps).toEqual(['192.0.2.0/24', '2001:db8::/32']);
      // The allowlist applies to the project's keys in this task at once: the test client is 127.0.0.1.
      const refused = await records(t.app, p);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('ip_not_allowed');
      const cleared = await patch(p.id, { allowedIps: [] });
      expect(cleared.body.allowedIps).toEqual([]);
      expect((await t.storage.control.getProject(p.id))?.allowedIps).toBeUndefined();
      expect((await records(t.app, p)).status).toBe(200);
      expect((await request(t.app).get(`/v1/projects/${p.id}`).set(t.admin)).body.name).toBe('Acme Europe');
    });

    const refusals: [string, unknown, number, string][] = [
      ['an unknown field', { name: 'New', colour: 'blue' }, 400, 'validation_failed'],
      ['the id', { id: 'other-id' }, 400, 'validation_failed'],
      ['an empty body', {}, 400, 'validation_failed'],
      ['an empty name', { name: '' }, 400, 'validation_failed'],
      ['a blank name', { name: '   ' }, 400, 'validation_failed'],
      ['a control character', { name: 'a\u0007b' }, 400, 'validation_failed'],
      ['a bidi override', { name: 'invoice\u202Etxt.exe' }, 400, 'invisible_character'],
      ['a bad allowlist entry', { allowedIps: ['10.0.0.0/8', '10.1.2.3/33'] }, 400, 'validation_failed'],
      ['a lenient address', { allowedIps: ['012.001.002.003'] }, 400, 'validation_failed'],
      ['a non-array allowlist', { allowedIps: '10.0.0.1' }, 400, 'validation_failed'],
    ];
    it.each(refusals)('refuses %s and changes nothing', async (_what, body, status, code) => {
      const p = await createProjectWithKey(t, 'pm');
      const before = await t.storage.control.getProject(p.id);
      const res = await patch(p.id, body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(await t.storage.control.getProject(p.id)).toEqual(before);
    });

    it('lists every problem of a body at once', async () => {
      const p = await createProjectWithKey(t, 'pm');
      const res = await patch(p.id, { name: '', allowedIps: ['nope'], extra: 1 });
      expect(res.status).toBe(400);
      const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['name', 'allowedIps.0']));
      expect(res.body.error.details.length).toBeGreaterThanOrEqual(3);
    });

    it('is for the admin: a key of the project gets 401 and changes nothing; an unknown project is 404', async () => {
      const p = await createProjectWithKey(t, 'pm');
      const before = await t.storage.control.getProject(p.id);
      const res = await patch(p.id, { name: 'Mine now' }, p.auth);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
      expect(await t.storage.control.getProject(p.id)).toEqual(before);
      const missing = await patch('no-such-project-pm', { name: 'x' });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('project_not_found');
      expect(await t.storage.control.getProject('no-such-project-pm')).toBeNull();
    });
  });

  describe('DELETE /v1/projects/{id}', () => {
    async function assertIntact(p: TestProject, count: number) {
      expect((await t.storage.control.getProject(p.id))?.deletion).toBeUndefined();
      expect(await storedRecords(t, p)).toHaveLength(count);
      expect((await records(t.app, p)).status).toBe(200);
    }

    it('refuses a deletion without ?confirm, or with another id, and deletes nothing', async () => {
      const p = await createProjectWithKey(t, 'pm');
      await push(t.app, p, [{ a: 1 }]);
      for (const query of [{}, { confirm: '' }, { confirm: 'other-project' }, { confirm: p.id.toUpperCase() }] as Record<string, string>[]) {
        const res = await remove(p.id, query);
        expect(res.status, JSON.stringify(query)).toBe(400);
        expect(res.body.error.code).toBe('deletion_not_confirmed');
      }
      const extra = await remove(p.id, { confirm: p.id, force: 'true' });
      expect(extra.status).toBe(400);
      expect(extra.body.error.code).toBe('unknown_parameter');
      await assertIntact(p, 1);
    });

    it('answers 404 for an unknown project, and 401 to a key of the project (which keeps working)', async () => {
      const missing = await remove('no-such-project-pm');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('project_not_found');
      const p = await createProjectWithKey(t, 'pm');
      await push(t.app, p, [{ a: 1 }, { b: 2 }]);
      const byKey = await remove(p.id, { confirm: p.id }, p.auth);
      expect(byKey.status).toBe(401);
      expect(byKey.body.error.code).toBe('unauthenticated');
      await assertIntact(p, 2);
    });

    it(
      'revokes the keys in every task by its answer, refuses the project meanwhile, then removes table, bucket and id',
      async () => {
        const p = await createProjectWithKey(t, 'pm');
        await push(t.app, p, [{ email: 'a@x.io' }, { email: 'b@x.io' }]);
        await t.storage.objects.putStream(p.project.bucketName, 'incoming/f0/people.csv', Readable.from([Buffer.from('email\nc@x.io\n')]));
        await t.storage.objects.putStream(p.project.bucketName, 'exports/part-0.ndjson', Readable.from([Buffer.from('{}\n')]));
        const at = new Date().toISOString();
        await t.storage.control.quarantine.putEntries(p.id, [{
          id: 'q-1', projectId: p.id, raw: '{"email":"d@x.io"}', reason: { code: 'missing_key', message: 'no key' },
          source: { type: 'push', keyId: 'k', requestId: 'r', index: 0 }, modelVersion: null, createdAt: at, expiresAt: Date.now() + 3_600_000,
        }]);
        // The other task has the key and the project in its caches.
        expect((await records(other, p)).status).toBe(200);

        const res = await remove(p.id);
        expect(res.status, res.text).toBe(202);
        expect(res.body).toMatchObject({ id: p.id, deletion: { jobId: expect.any(String), requestedAt: expect.any(String) } });

        // From the answer on, the key is refused here and in the other task.
        for (const app of [t.app, other]) {
          const refused = await records(app, p);
          expect(refused.status).toBe(401);
          expect(refused.body.error.code).toBe('unauthenticated');
        }
        await waitUntilGone(p.id);

        expect(await t.storage.control.getProject(p.id)).toBeNull();
        expect(await t.storage.control.listKeys(p.id)).toEqual([]);
        expect((await t.storage.control.listJobs(p.id, { limit: 10 })).items).toEqual([]);
        expect(await t.storage.objects.emptyBucket(p.project.bucketName)).toBe(0);
        expect((await t.storage.control.quarantine.listEntries(p.id, { limit: 10, now: Date.now() })).items).toEqual([]);
        // The id is free again; the new project starts empty and the old key stays dead.
        const again = await request(t.app).post('/v1/projects').set(t.admin).send({ id: p.id, name: 'Second life' });
        expect(again.status, again.text).toBe(201);
        const fresh = await records(t.app, p, t.admin);
        expect(fresh.status).toBe(200);
        expect(fresh.body.items).toEqual([]);
        expect((await records(t.app, p)).status).toBe(401);
        expect((await request(t.app).get(`/v1/projects/${p.id}/jobs`).set(t.admin)).body.items).toEqual([]);
      },
      DELETION_TIMEOUT,
    );

    it(
      'a deletion whose task died is refused meanwhile and resumed by another task’s poller',
      async () => {
        const p = await createProjectWithKey(t, 'pm');
        await push(t.app, p, [{ a: 1 }]);
        await t.storage.objects.putStream(p.project.bucketName, 'processed/f1/old.csv', Readable.from([Buffer.from('a\n1\n')]));
        // What a task leaves when it dies right after marking the project: a job under its lease.
        const at = new Date().toISOString();
        const job: JobItem = {
          id: `del-${p.id}`, projectId: p.id, fileId: `del-${p.id}`, fileName: DELETION_JOB_NAME, bucket: p.project.bucketName,
          objectKey: '', etag: 'deletion', ...queuedJobState(), bytesTotal: 0, createdAt: at, updatedAt: at,
        };
        await t.storage.control.createJob(job);
        expect(await t.storage.control.updateProject(p.id, { deletion: { jobId: job.id, requestedAt: at } })).not.toBeNull();
        expect(await t.storage.control.claimJob(p.id, job.id, 'a-task-that-died', 300)).not.toBeNull();
        t.services.projects.forget(p.id);

        // Meanwhile: the project's routes answer 409 project_deleting, to the admin too; the id stays taken.
        const asAdmin = await records(t.app, p, t.admin);
        expect(asAdmin.status).toBe(409);
        expect(asAdmin.body.error.code).toBe('project_deleting');
        const pushed = await request(t.app).post(`/v1/projects/${p.id}/records`).set(t.admin).send({ a: 2 });
        expect(pushed.status).toBe(409);
        expect(pushed.body.error.code).toBe('project_deleting');
        const renamed = await patch(p.id, { name: 'Too late' });
        expect(renamed.status).toBe(409);
        expect(renamed.body.error.code).toBe('project_deleting');
        const keys = await request(t.app).post(`/v1/projects/${p.id}/keys`).set(t.admin).send({ name: 'late' });
        expect(keys.status).toBe(409);
        const recreate = await request(t.app).post('/v1/projects').set(t.admin).send({ id: p.id, name: 'Too soon' });
        expect(recreate.status).toBe(409);
        expect(recreate.body.error.code).toBe('project_deleting');
        const shown = await request(t.app).get(`/v1/projects/${p.id}`).set(t.admin);
        expect(shown.status).toBe(200);
        expect(shown.body.deletion).toMatchObject({ jobId: job.id, status: 'running' });
        // Asking again answers with the deletion under way, not a second one.
        const twice = await remove(p.id);
        expect(twice.status).toBe(202);
        expect(twice.body.deletion.jobId).toBe(job.id);
        expect(await storedRecords(t, p)).toHaveLength(1);
        expect((await t.storage.control.getProject(p.id))?.name).toBe(p.project.name);

        // Another task's poller takes the job up once the dead task's lease has expired.
        const services = createServices(t.config, t.storage, t.adminToken);
        const poller = new Poller(
          { ...t.storage, projects: services.projects, logger: t.logger, metrics: t.metrics, resumeDeletion: (project) => services.deletions.resume(project) },
          { ...FAST_POLLER, maxDecompressedBytes: t.config.limits.maxDecompressedBytes },
        );
        await sleep(350);
        await poller.pollOnce();
        await waitUntilGone(p.id);
        expect(await t.storage.control.listKeys(p.id)).toEqual([]);
        expect(await t.storage.objects.emptyBucket(p.project.bucketName)).toBe(0);
        expect((await records(t.app, p)).status).toBe(401);
      },
      DELETION_TIMEOUT,
    );
  });
});
