// INTAKE_MAX_INFLATION_RATIO reaches the parser through the poller: a gzip file that
// inflates past the configured ratio fails decompressed_too_large naming that ratio, and
// stores nothing from the bytes past the bound.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Poller } from '../../src/ingest/poller.js';
import { createPoller, createProjectWithKey, recordsOfJob, uploadFile, waitForJob, type TestProject } from '../support/ingest.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * One record, then 20 MiB of lines of spaces and tabs in a fixed pseudo-random order:
 * whitespace lines are skipped (nothing to write), and one bit per character keeps gzip
 * near 6:1, far below the default 400:1 and above the 4:1 set here.
 */
function whitespaceNdjson(): Buffer {
  const lines: string[] = ['{"n":1}'];
  let seed = 12345;
  let size = 0;
  while (size < 20 * 1024 * 1024) {
    let line = '';
    for (let i = 0; i < 100; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      line += seed & 0x10000 ? ' ' : '\t';
    }
    lines.push(line);
    size += line.length + 1;
  }
  return gzipSync(`${lines.join('\n')}\n`);
}

describe('INTAKE_MAX_INFLATION_RATIO', () => {
  let t: TestApp;
  let p: TestProject;
  let poller: Poller;
  beforeAll(async () => {
    t = await createTestApp({ env: { INTAKE_MAX_INFLATION_RATIO: '4' } });
    p = await createProjectWithKey(t, 'ratio');
    poller = createPoller(t);
    poller.start();
  });
  afterAll(async () => {
    await poller.stop();
    await t.close();
  });

  it('fails a gzip file inflating past the configured ratio', async () => {
    expect(t.config.limits.maxInflationRatio).toBe(4);
    const accepted = await uploadFile(t, p, 'spaces.ndjson.gz', whitespaceNdjson());
    const job = await waitForJob(t, p, accepted.jobId, 60_000);
    expect(job.status).toBe('failed');
    expect(job.failure, JSON.stringify(job)).toEqual({ code: 'decompressed_too_large', message: expect.stringContaining('inflates more than 4 times') });
    expect((await recordsOfJob(t, p, accepted.jobId)).length).toBe(job.recordsWritten);
  }, 90_000);
});
