// The poller shares its slots fairly across projects: while one project's jobs are stuck
// (their objects stream nothing, as a compression bomb or a huge file keeps a slot busy),
// another project's small file is ingested at once instead of waiting for them all.
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import type { ObjectStore } from '../../src/storage/ports.js';
import { createPoller, createProjectWithKey, listJobs, recordsOfJob, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('fair scheduling across projects', () => {
  let t: TestApp;
  let busy: TestProject;
  let quiet: TestProject;
  let poller: Poller;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    t = await createTestApp();
    // Listed first, so before fair scheduling its backlog took every slot.
    busy = await createProjectWithKey(t, 'fair-a');
    quiet = await createProjectWithKey(t, 'fair-b');
  });
  afterAll(async () => {
    release();
    await poller?.stop();
    await t.close();
  });

  it("one project's backlog does not hold back another project's file", async () => {
    // The real store, except that the busy project's objects start streaming only once released.
    const real = t.storage.objects;
    const held = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'getStream') {
          return async (bucket: string, key: string): Promise<Readable> => {
            if (bucket === busy.project.bucketName) await released;
            return target.getStream(bucket, key);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as ObjectStore;

    const backlog = [];
    for (let i = 0; i < 3; i++) backlog.push(await uploadFile(t, busy, `big-${i}.csv`, `n\n${i}\n`));
    const small = await uploadFile(t, quiet, 'two-rows.csv', 'n\n1\n2\n');

    poller = createPoller(t, { concurrency: 2, leaseMs: 60_000 }, { objects: held, control: t.storage.control, records: t.storage.records });
    poller.start();

    const job = await waitForJob(t, quiet, small.jobId, 15_000);
    expect(job.status).toBe('succeeded');
    expect(await recordsOfJob(t, quiet, small.jobId)).toHaveLength(2);
    // Meanwhile the busy project's jobs are all still unfinished.
    const busyJobs = await listJobs(t, busy);
    expect(busyJobs.filter((j) => ['succeeded', 'partial', 'failed'].includes(j.status))).toHaveLength(0);

    release();
    for (const accepted of backlog) expect((await waitForJob(t, busy, accepted.jobId, 20_000)).status).toBe('succeeded');
  });
});
