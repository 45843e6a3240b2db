// The CSV file of the hardening issue: a quoted cell with unescaped inner quotes is
// stored as spreadsheet tools read it, and the job says so with the row number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import { createPoller, createProjectWithKey, recordsOfJob, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('a malformed quoted CSV cell', () => {
  let t: TestApp;
  let p: TestProject;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp();
    p = await createProjectWithKey(t, 'csvq');
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  it('is stored without its enclosing quotes, and the job names the row in its notices', async () => {
    const accepted = await uploadFile(t, p, 'quotes.csv', 'n,text,x\n1,"He said "clean it" today",x\n2,"ok",y\n');
    const job = await waitForJob(t, p, accepted.jobId);
    expect(job.status).toBe('succeeded');
    expect(job.recordsWritten).toBe(2);
    expect(job.notices).toContainEqual(expect.stringMatching(/^row 1: a quoted cell holds unescaped quotes/));
    const records = await recordsOfJob(t, p, accepted.jobId);
    expect(records.map((r) => r.data).sort((a, b) => String(a.n).localeCompare(String(b.n)))).toEqual([
      { n: '1', text: 'He said "clean it" today', x: 'x' },
      { n: '2', text: 'ok', x: 'y' },
    ]);
  });
});
