// Figure 4: paging through every record with limit=1000, and GET /records/{id} latency
// under load; vs the same reads straight from the same engine over the same data.
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { storageNames } from '../../src/storage/names.js';
import { runCeiling } from '../lib/children.js';
import { customerFile } from '../lib/customers.js';
import { IntakeServer } from '../lib/intake.js';
import { closedLoop, httpGetter } from '../lib/latency.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';
import { keptDataset, type KeptDataset } from './ingest.js';

/** The records to read: those the ingest figures left behind, or a fresh (untimed) ingest. */
async function dataset(options: BenchOptions): Promise<KeptDataset> {
  const kept = keptDataset();
  if (kept && kept.rows === options.readRows) return kept;
  const dataDir = path.join(options.dataDir, 'read');
  const server = await IntakeServer.start({ dataDir, nodeArgs: options.serverNodeArgs });
  try {
    const project = await server.createProject('bench-read');
    const file = await customerFile(path.join(options.dataDir, 'files'), 'csv', options.readRows);
    const up = await server.uploadFile(project, file, (await fs.stat(file)).size);
    const job = await server.waitForJob(project, up.jobId);
    if (job.recordsWritten !== options.readRows) throw new Error(`read dataset ingest ended ${job.status}`);
    return { dataDir, project, rows: options.readRows };
  } finally {
    await server.stop();
  }
}

export async function readFigures(options: BenchOptions, results: Results): Promise<void> {
  const data = await dataset(options);
  const table = storageNames('intake-').recordsTable(data.project.id);
  const headers = { 'X-API-Key': data.project.key };
  const runs: Record<string, number>[] = [];
  let ids: string[] = [];
  const readRuns = options.readRows >= 1_000_000 ? options.largeRuns : options.runs;
  try {
    for (let run = 0; run < readRuns; run++) {
      const server = await IntakeServer.start({ dataDir: data.dataDir, reuseData: true, nodeArgs: options.serverNodeArgs });
      const client = httpGetter(options.readClients);
      let pageRate: number;
      let get;
      try {
        const base = `${server.base}/v1/projects/${data.project.id}/records`;
        let cursor: string | null = null;
        let count = 0;
        const sample: string[] = [];
        const started = performance.now();
        do {
          const url: string = `${base}?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
          const page = JSON.parse(await client.get(url, headers)) as { items: { id: string }[]; nextCursor: string | null };
          for (const item of page.items) if (count++ % 50 === 0) sample.push(item.id);
          cursor = page.nextCursor;
        } while (cursor !== null);
        pageRate = count / ((performance.now() - started) / 1000);
        if (count !== data.rows) throw new Error(`paging returned ${count} records, expected ${data.rows}`);
        if (ids.length === 0) ids = sample;
        get = await closedLoop(
          async () => {
            await client.get(`${base}/${ids[Math.floor(Math.random() * ids.length)]}`, headers);
          },
          options.readClients,
          options.readSeconds * 1000,
        );
      } finally {
        client.close();
        await server.stop();
      }
      const direct = await runCeiling<{ recordsPerSecond: number; records: number; get: { requestsPerSecond: number; p50Ms: number; p99Ms: number } }>(
        'sqlite-read.ts',
        { file: path.join(data.dataDir, 'intake.db'), table, ids, clients: options.readClients, durationMs: options.readSeconds * 1000 },
      );
      runs.push({
        intakeRecordsPerSecond: pageRate,
        ceilingRecordsPerSecond: direct.recordsPerSecond,
        pageRatio: pageRate / direct.recordsPerSecond,
        intakeGetPerSecond: get.requestsPerSecond,
        intakeP50Ms: get.p50Ms,
        intakeP99Ms: get.p99Ms,
        ceilingGetPerSecond: direct.get.requestsPerSecond,
        ceilingP50Ms: direct.get.p50Ms,
        ceilingP99Ms: direct.get.p99Ms,
        p50Ratio: direct.get.p50Ms / get.p50Ms,
        p99Ratio: direct.get.p99Ms / get.p99Ms,
      });
    }
  } finally {
    await fs.rm(data.dataDir, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k]!))]));
  const rowsLabel = data.rows >= 1_000_000 ? `${data.rows / 1_000_000}M` : `${data.rows / 1000}k`;
  results.add({
    name: 'read_paging_ratio',
    value: m.pageRatio!,
    unit: 'ratio',
    detail: `paging ${rowsLabel} records, limit=1000: intake ${fmt(m.intakeRecordsPerSecond!)} records/s, ceiling ${fmt(m.ceilingRecordsPerSecond!)} records/s (listRecords pages straight from the same SQLite file)`,
    runs,
    medians: m,
  });
  results.add({
    name: 'read_get_p50_ratio',
    value: m.p50Ratio!,
    unit: 'ratio',
    detail: `GET by id, ${options.readClients} concurrent clients: intake p50 ${fmt(m.intakeP50Ms!)} ms at ${fmt(m.intakeGetPerSecond!)} req/s, ceiling p50 ${fmt(m.ceilingP50Ms!)} ms at ${fmt(m.ceilingGetPerSecond!)} req/s (getRecord straight from the same SQLite file)`,
    runs,
    medians: m,
  });
  results.add({
    name: 'read_get_p99_ratio',
    value: m.p99Ratio!,
    unit: 'ratio',
    detail: `GET by id, ${options.readClients} concurrent clients: intake p99 ${fmt(m.intakeP99Ms!)} ms, ceiling p99 ${fmt(m.ceilingP99Ms!)} ms (getRecord straight from the same SQLite file)`,
    runs,
    medians: m,
  });
}
