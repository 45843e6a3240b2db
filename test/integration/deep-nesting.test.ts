// Records nested too deep, through every path: a push is refused with 400 too_deep and
// stores nothing; in a file (NDJSON, JSON array, XML) the deep record is a row error
// too_deep with the limit in its message, and the rows around it are stored (partial).
// Depths from just past the limit to a million levels: none may reach a recursive step.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import { createPoller, createProjectWithKey, recordsOfJob, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { storedRecordCount } from '../support/security-kit.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const DEPTHS = [100, 4_000, 4_300, 10_000, 1_000_000];
const jsonDeep = (levels: number) => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
const xmlDeep = (levels: number) => `<c>${'<d>'.repeat(levels - 1)}x${'</d>'.repeat(levels - 1)}</c>`;

const FILES = {
  ndjson: (levels: number) => `{"n":1}\n${jsonDeep(levels)}\n{"n":3}\n`,
  json: (levels: number) => `[{"n":1},${jsonDeep(levels)},{"n":3}]`,
  xml: (levels: number) => `<r><c><n>1</n></c>${xmlDeep(levels)}<c><n>3</n></c></r>`,
} as const;

describe('deep nesting', () => {
  let t: TestApp;
  let p: TestProject;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProjectWithKey(t, 'deep');
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  it.each(DEPTHS)('a push of one record %i levels deep answers 400 too_deep and stores nothing', async (levels) => {
    const before = await storedRecordCount(t, p);
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(p.auth)
      .set('Content-Type', 'application/json')
      .send(jsonDeep(levels));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('too_deep');
    expect(res.body.error.message).toContain(`${t.config.limits.maxJsonDepth} levels`);
    expect(await storedRecordCount(t, p)).toBe(before);
  });

  for (const [format, doc] of Object.entries(FILES)) {
    it.each(DEPTHS)(`a ${format} file with one record %i levels deep stores the rows around it (partial)`, async (levels) => {
      const accepted = await uploadFile(t, p, `deep-${levels}.${format}`, doc(levels));
      const job = await waitForJob(t, p, accepted.jobId);
      expect(job.status).toBe('partial');
      expect(job.recordsWritten).toBe(2);
      expect(job.rowsRejected).toBe(1);
      expect(job.errors).toEqual([{ row: 2, code: 'too_deep', message: expect.stringContaining('deeper than 64 levels') }]);
      const records = await recordsOfJob(t, p, accepted.jobId);
      expect(records.map((r) => JSON.stringify(r.data)).sort()).toEqual(
        format === 'xml' ? ['{"n":"1"}', '{"n":"3"}'] : ['{"n":1}', '{"n":3}'],
      );
    });
  }
});
