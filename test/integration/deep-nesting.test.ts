// Records nested too deep, through every path: a push of one record is refused with 400
// too_deep and stores nothing; in an array or NDJSON push the deep record alone is rejected
// too_deep and the others are stored; in a file (NDJSON, JSON array, XML) the deep record is a row error
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

  const PUSHES = {
    'application/json': (levels: number) => `[{"n":1},${jsonDeep(levels)},{"n":3}]`,
    'application/x-ndjson': (levels: number) => `{"n":1}\n${jsonDeep(levels)}\n{"n":3}\n`,
  } as const;
  for (const [contentType, body] of Object.entries(PUSHES)) {
    it.each(DEPTHS)(`a ${contentType} push with one record %i levels deep rejects that record alone`, async (levels) => {
      const before = await storedRecordCount(t, p);
      const res = await request(t.app).post(`/v1/projects/${p.id}/records`).set(p.auth).set('Content-Type', contentType).send(body(levels));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ accepted: 2, rejected: 1 });
      expect(res.body.errors).toEqual([
        { index: 1, code: 'too_deep', message: expect.stringContaining(`${t.config.limits.maxJsonDepth} levels`) },
      ]);
      expect(res.body.records.map((r: { index: number }) => r.index)).toEqual([0, 2]);
      expect(await storedRecordCount(t, p)).toBe(before + 2);
    });
  }

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

// INTAKE_MAX_JSON_DEPTH bounds files as it bounds pushes: the poller hands it to the parsers.
describe('deep nesting under a configured limit', () => {
  let t: TestApp;
  let p: TestProject;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_MAX_JSON_DEPTH: '8' } });
    p = await createProjectWithKey(t, 'deep8');
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  const nested = (levels: number) => `{"a":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;

  for (const format of ['ndjson', 'json'] as const) {
    it(`a ${format} file is held to INTAKE_MAX_JSON_DEPTH, not the default`, async () => {
      const rows = [nested(8), nested(9), nested(20)];
      const doc = format === 'ndjson' ? `${rows.join('\n')}\n` : `[${rows.join(',')}]`;
      const accepted = await uploadFile(t, p, `limit-8.${format}`, doc);
      const job = await waitForJob(t, p, accepted.jobId);
      expect(job.status).toBe('partial');
      expect(job.recordsWritten).toBe(1);
      expect(job.errors).toEqual([
        { row: 2, code: 'too_deep', message: expect.stringContaining('deeper than 8 levels') },
        { row: 3, code: 'too_deep', message: expect.stringContaining('deeper than 8 levels') },
      ]);
      const records = await recordsOfJob(t, p, accepted.jobId);
      expect(records.map((r) => JSON.stringify(r.data))).toEqual([nested(8)]);
    });
  }

  it('an array push holds each element to the limit on its own', async () => {
    const before = await storedRecordCount(t, p);
    const res = await request(t.app)
      .post(`/v1/projects/${p.id}/records`)
      .set(p.auth)
      .set('Content-Type', 'application/json')
      .send(`[${nested(8)},${nested(9)}]`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(res.body.errors).toEqual([{ index: 1, code: 'too_deep', message: expect.stringContaining('8 levels') }]);
    expect(await storedRecordCount(t, p)).toBe(before + 1);
  });
});
