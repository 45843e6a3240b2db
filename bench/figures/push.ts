// Figure 3: POST /records with 1, 100 and 1,000-record bodies under concurrent clients
// (autocannon) vs the same records written straight into the same engine (SQLite
// putRecords of one request's records per call, in a child process); and 1-record
// pushes vs a bare Express JSON echo route.
import fs from 'node:fs/promises';
import path from 'node:path';
import { BENCH_DIR, runCeiling, spawnChild } from '../lib/children.js';
import { customerJson } from '../lib/customers.js';
import { IntakeServer } from '../lib/intake.js';
import { load } from '../lib/load.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';

function pushBody(records: number): string {
  if (records === 1) return customerJson(1, 'ndjson');
  return `[${Array.from({ length: records }, (_, i) => customerJson(i + 1, 'ndjson')).join(',')}]`;
}

export async function pushFigures(options: BenchOptions, results: Results): Promise<void> {
  const root = path.join(options.dataDir, 'push');
  const echo = spawnChild([path.join(BENCH_DIR, 'ceilings', 'express-echo-server.ts')]);
  const duration = options.pushSeconds;
  let intake: IntakeServer | undefined;
  try {
    const echoPort = Number(await echo.waitFor(/LISTENING (\d+)/, 30_000));
    for (const perRequest of [1, 100, 1000]) {
      // Each body size starts on empty storage on both sides; its runs then add up on
      // both sides alike (Intake's table and the ceiling's grow over the runs).
      await intake?.stop();
      intake = await IntakeServer.start({ dataDir: path.join(root, `intake-${perRequest}`), nodeArgs: options.serverNodeArgs });
      const project = await intake.createProject('bench-push');
      const url = `${intake.base}/v1/projects/${project.id}/records`;
      const headers = { 'Content-Type': 'application/json', 'X-API-Key': project.key };
      const ceilingFile = path.join(root, `ceiling-${perRequest}`, 'intake.db');
      // Fewer clients for bigger bodies (16, 8, 4), so each run completes many requests of every size.
      const connections = perRequest === 1 ? options.pushClients : perRequest === 100 ? options.pushClients / 2 : options.pushClients / 4;
      const body = pushBody(perRequest);
      // Warm-up: JIT, sockets, caches.
      await load({ url, method: 'POST', headers, body, connections, duration: 1 });
      const runs: Record<string, number>[] = [];
      for (let run = 0; run < options.runs; run++) {
        const pushed = await load({ url, method: 'POST', headers, body, connections, duration });
        const direct = await runCeiling<{ recordsPerSecond: number; wallRecordsPerSecond: number }>('sqlite-write.ts', {
          mode: 'push',
          file: ceilingFile,
          table: 'ceiling-push',
          perRequest,
          durationMs: duration * 1000,
        });
        const intakeRecords = pushed.requestsPerSecond * perRequest;
        const r: Record<string, number> = {
          intakeRequestsPerSecond: pushed.requestsPerSecond,
          intakeRecordsPerSecond: intakeRecords,
          ceilingRecordsPerSecond: direct.recordsPerSecond,
          ceilingWithBuildRecordsPerSecond: direct.wallRecordsPerSecond,
          ratio: intakeRecords / direct.recordsPerSecond,
          p50Ms: pushed.p50Ms,
          p99Ms: pushed.p99Ms,
        };
        if (perRequest === 1) {
          const echoed = await load({ url: `http://127.0.0.1:${echoPort}/echo`, method: 'POST', headers, body, connections, duration });
          r.echoRequestsPerSecond = echoed.requestsPerSecond;
          r.echoRatio = pushed.requestsPerSecond / echoed.requestsPerSecond;
        }
        runs.push(r);
      }
      const m = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k]!))]));
      const target = perRequest === 100 ? 0.7 : undefined;
      results.add({
        name: `push_${perRequest}_records_ratio`,
        value: m.ratio!,
        unit: 'ratio',
        detail:
          `${connections} clients, ${perRequest}-record bodies: intake ${fmt(m.intakeRecordsPerSecond!)} records/s ` +
          `(${fmt(m.intakeRequestsPerSecond!)} req/s, p99 ${fmt(m.p99Ms!)} ms), ceiling ${fmt(m.ceilingRecordsPerSecond!)} records/s (SQLite putRecords of ${perRequest} records alone; ${fmt(m.ceilingWithBuildRecordsPerSecond!)} counting the building of the records)`,
        ...(target === undefined ? {} : { target: `>= ${target}`, pass: m.ratio! >= target }),
        runs,
        medians: m,
      });
      if (perRequest === 1) {
        results.add({
          name: 'push_1_record_vs_echo_ratio',
          value: m.echoRatio!,
          unit: 'ratio',
          detail: `${connections} clients: intake ${fmt(m.intakeRequestsPerSecond!)} req/s, ceiling ${fmt(m.echoRequestsPerSecond!)} req/s (bare Express JSON echo)`,
          target: '>= 0.35',
          pass: m.echoRatio! >= 0.35,
          runs,
          medians: m,
        });
      }
    }
  } finally {
    await Promise.all([intake?.stop(), echo.stop()]);
    await fs.rm(root, { recursive: true, force: true });
  }
}
