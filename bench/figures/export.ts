// Export figures (embedded mode): (a) the streamed NDJSON export over HTTP vs the same
// pages read straight from the same SQLite file with the same JSON work, and the server's
// peak RSS while it streams; (b) a Parquet export job vs an NDJSON export job of the same
// records, in rate and in bytes.
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { storageNames } from '../../src/storage/names.js';
import { runCeiling } from '../lib/children.js';
import { customerFile } from '../lib/customers.js';
import { IntakeServer, type Project } from '../lib/intake.js';
import { currentRssMiB } from '../lib/memory.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';

interface ExportJobView {
  status: string;
  progress: { records: number; bytes: number; parts: number };
  startedAt: string | null;
  finishedAt: string | null;
  failure: unknown;
}

/** Streams GET …/export to nowhere, counting lines: the records/s a client sees. */
function streamExport(server: IntakeServer, project: Project): Promise<{ records: number; bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(`${server.base}/v1/projects/${project.id}/export?format=ndjson`, { headers: { 'X-API-Key': project.key } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`));
      let records = 0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) records++;
      });
      res.on('end', () => resolve({ records, bytes, seconds: (performance.now() - started) / 1000 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Runs an export job to its end, polling its status every 200 ms; the slowest of those polls
 * tells how long the job kept the server from answering anything else.
 */
async function runJob(server: IntakeServer, project: Project, format: string): Promise<{ rate: number; bytes: number; records: number; slowestPollMs: number }> {
  const job = await server.api<{ id: string }>('POST', `/v1/projects/${project.id}/exports`, { token: project.key, body: { format } });
  let slowestPollMs = 0;
  for (;;) {
    const asked = performance.now();
    const view = await server.api<ExportJobView>('GET', `/v1/projects/${project.id}/exports/${job.id}`, { token: project.key });
    slowestPollMs = Math.max(slowestPollMs, performance.now() - asked);
    if (view.status === 'failed') throw new Error(`${format} export failed: ${JSON.stringify(view.failure)}`);
    if (view.status === 'succeeded') {
      const seconds = (Date.parse(view.finishedAt!) - Date.parse(view.startedAt!)) / 1000;
      return { rate: view.progress.records / seconds, bytes: view.progress.bytes, records: view.progress.records, slowestPollMs };
    }
    await sleep(200);
  }
}

export async function exportFigures(options: BenchOptions, results: Results): Promise<void> {
  const rows = options.exportRows;
  const dataDir = path.join(options.dataDir, 'export');
  let server = await IntakeServer.start({ dataDir, nodeArgs: options.serverNodeArgs, env: { INTAKE_EXPORT_RETENTION_DAYS: '0' } });
  let project: Project;
  try {
    project = await server.createProject('bench-export');
    const file = await customerFile(path.join(options.dataDir, 'files'), 'csv', rows);
    const up = await server.uploadFile(project, file, (await fs.stat(file)).size);
    const job = await server.waitForJob(project, up.jobId);
    if (job.recordsWritten !== rows) throw new Error(`export dataset ingest ended ${job.status}`);
  } finally {
    await server.stop();
  }
  const idleRss = await idleServerRss(options);
  const table = storageNames('intake-').recordsTable(project.id);
  const runs: Record<string, number>[] = [];
  try {
    for (let run = 0; run < (rows >= 1_000_000 ? options.largeRuns : options.runs); run++) {
      server = await IntakeServer.start({ dataDir, reuseData: true, nodeArgs: options.serverNodeArgs, env: { INTAKE_EXPORT_RETENTION_DAYS: '0' } });
      let streamed;
      let peak: number;
      let rssBefore: number;
      let ndjson;
      let parquet;
      try {
        rssBefore = currentRssMiB(server.pid);
        const rss = server.peakRss();
        rss.start();
        streamed = await streamExport(server, project);
        peak = rss.stop();
        if (streamed.records !== rows) throw new Error(`the export streamed ${streamed.records} records, expected ${rows}`);
        ndjson = await runJob(server, project, 'ndjson');
        parquet = await runJob(server, project, 'parquet');
        if (parquet.records !== rows || ndjson.records !== rows) throw new Error('an export job missed records');
      } finally {
        await server.stop();
      }
      const direct = await runCeiling<{ recordsPerSecond: number; records: number }>('export-scan.ts', { file: path.join(dataDir, 'intake.db'), table });
      const intakeRate = streamed.records / streamed.seconds;
      runs.push({
        intakeRecordsPerSecond: intakeRate,
        ceilingRecordsPerSecond: direct.recordsPerSecond,
        streamRatio: intakeRate / direct.recordsPerSecond,
        peakRssMiB: peak,
        rssBeforeMiB: rssBefore,
        rssGrowthMiB: peak - rssBefore,
        idleServerRssMiB: idleRss,
        streamedBytes: streamed.bytes,
        ndjsonJobRecordsPerSecond: ndjson.rate,
        parquetJobRecordsPerSecond: parquet.rate,
        parquetRateRatio: parquet.rate / ndjson.rate,
        ndjsonBytes: ndjson.bytes,
        parquetBytes: parquet.bytes,
        parquetSizeRatio: parquet.bytes / ndjson.bytes,
        parquetSlowestPollMs: parquet.slowestPollMs,
      });
    }
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k]!))]));
  const label = rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
  results.add({
    name: 'export_ndjson_stream_ratio',
    value: m.streamRatio!,
    unit: 'ratio',
    detail: `GET export?format=ndjson of ${label} records: intake ${fmt(m.intakeRecordsPerSecond!)} records/s, ceiling ${fmt(m.ceilingRecordsPerSecond!)} records/s (listRecords pages of the export's size from the same SQLite file, each record made the same NDJSON line)`,
    target: '>= 0.8',
    pass: m.streamRatio! >= 0.8,
    runs,
    medians: m,
  });
  results.add({
    name: 'export_stream_peak_rss_mib',
    value: m.peakRssMiB!,
    unit: 'MiB',
    detail:
      `server peak RSS while streaming ${label} records (${fmt(m.streamedBytes! / 1024 / 1024)} MiB of NDJSON), restarted over them; ` +
      `${fmt(m.rssBeforeMiB!)} MiB just before the export, ${fmt(m.idleServerRssMiB!)} MiB for a server started on an empty data directory`,
    target: '< 200',
    pass: m.peakRssMiB! < 200,
    runs,
    medians: m,
  });
  results.add({
    name: 'export_stream_rss_growth_mib',
    value: m.rssGrowthMiB!,
    unit: 'MiB',
    detail: `the same peak minus the server's RSS just before the export: what streaming ${label} records added`,
    runs,
    medians: m,
  });
  results.add({
    name: 'export_parquet_job_rate_ratio',
    value: m.parquetRateRatio!,
    unit: 'ratio',
    detail: `export jobs of ${label} records: parquet ${fmt(m.parquetJobRecordsPerSecond!)} records/s, ndjson ${fmt(m.ndjsonJobRecordsPerSecond!)} records/s (startedAt to finishedAt)`,
    target: '>= 0.5',
    pass: m.parquetRateRatio! >= 0.5,
    runs,
    medians: m,
  });
  results.add({
    name: 'export_parquet_job_slowest_request_ms',
    value: m.parquetSlowestPollMs!,
    unit: 'ms',
    detail: `the slowest status request answered while the parquet job of ${label} records ran (one every 200 ms): how long the job held up the server's other requests`,
    runs,
    medians: m,
  });
  results.add({
    name: 'export_parquet_size_ratio',
    value: m.parquetSizeRatio!,
    unit: 'ratio',
    detail: `parquet ${fmt(m.parquetBytes! / 1024 / 1024)} MiB, ndjson ${fmt(m.ndjsonBytes! / 1024 / 1024)} MiB for the same ${label} records`,
    target: '<= 0.35',
    pass: m.parquetSizeRatio! <= 0.35,
    runs,
    medians: m,
  });
}

/**
 * Peak RSS over a second of a server just started on an empty data directory: the process
 * itself (node, tsx, the service's modules), without any data to cache.
 */
async function idleServerRss(options: BenchOptions): Promise<number> {
  const server = await IntakeServer.start({ dataDir: path.join(options.dataDir, 'export-idle'), nodeArgs: options.serverNodeArgs });
  try {
    const rss = server.peakRss();
    rss.start();
    await sleep(1000);
    return rss.stop();
  } finally {
    await server.stop();
    await fs.rm(path.join(options.dataDir, 'export-idle'), { recursive: true, force: true });
  }
}
