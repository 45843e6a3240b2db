// What a bench run measures, from the environment:
//   BENCH_QUICK=1          small sizes and one run each: a smoke run of a few minutes
//   BENCH_ONLY=upload,push only these groups (upload, ingest, aws, push, read, keyed, scaling, baseline)
//   BENCH_RUNS=3           runs per figure (the median is reported)
//   BENCH_UPLOAD_RUNS=5    runs of the upload figure (paired runs; single ones swing with disk write-back)
//   BENCH_SERVER_NODE_ARGS extra node flags for the Intake server, e.g. "--cpu-prof --cpu-prof-dir=bench/.data/prof"
//   BENCH_INGEST_SIZES=100000  CSV sizes of the ingest group (comma-separated rows)
//   BENCH_BASELINE_REF=f2c423b  also ingest the same CSV with that commit's server (a git worktree
//                          under bench/.data/, `npm ci` inside it) and print new rows/s over old
//   BENCH_BASELINE_ROWS=100000  the baseline's CSV size (default 1M rows, 100k with BENCH_QUICK)
//   BENCH_KEYED_ROWS=100000  the keyed group's CSV size (default 1M rows, 100k with BENCH_QUICK)
//   BENCH_RULES_ROWS=100000  the rules group's CSV size (default 1M rows, 100k with BENCH_QUICK)
//   BENCH_EXPORT_ROWS=100000  the export group's record count (default 1M, 100k with BENCH_QUICK)
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { BENCH_DIR } from './children.js';

export interface BenchOptions {
  quick: boolean;
  only: Set<string> | undefined;
  runs: number;
  /** Runs of the slowest figures (1M rows). */
  largeRuns: number;
  /** Runs of the keyed group at 1M rows: each is two ingests of 1M rows, one of them keyed (about 150 s). */
  keyedLargeRuns: number;
  /** Runs of the upload figure: short, but the disk's write-back makes single runs swing. */
  uploadRuns: number;
  uploadBytes: number;
  ingestSizes: number[];
  scalingSizes: number[];
  formatRows: number;
  awsRows: number;
  /** Rows of the keyed-ingest CSV (a fifth as many customers). */
  keyedRows: number;
  /** Rows of the messy CSV ingested with and without cleaning rules. */
  rulesRows: number;
  /** Records exported by the export group. */
  exportRows: number;
  pushSeconds: number;
  pushClients: number;
  readRows: number;
  readSeconds: number;
  readClients: number;
  /** Intake's default write concurrency per job: the DynamoDB write ceiling keeps as many calls in flight. */
  writeConcurrency: number;
  /** A commit of an earlier release to ingest the same CSV with (the `baseline` group), if any. */
  baselineRef: string | undefined;
  baselineRows: number;
  dataDir: string;
  resultsFile: string;
  serverNodeArgs: string[];
}

export function benchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const only = env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
  const runs = Number(env.BENCH_RUNS ?? (quick ? 1 : 3));
  const config = loadConfig({});
  return {
    quick,
    only,
    runs,
    largeRuns: Number(env.BENCH_LARGE_RUNS ?? (quick ? 1 : 2)),
    // One by default, so that the whole bench stays under 20 minutes; BENCH_KEYED_RUNS asks for more.
    keyedLargeRuns: Number(env.BENCH_KEYED_RUNS ?? env.BENCH_LARGE_RUNS ?? 1),
    uploadRuns: Number(env.BENCH_UPLOAD_RUNS ?? (quick ? 1 : Math.max(runs, 5))),
    uploadBytes: quick ? 128 * 1024 * 1024 : 1024 * 1024 * 1024,
    ingestSizes: env.BENCH_INGEST_SIZES
      ? env.BENCH_INGEST_SIZES.split(',').map(Number)
      : quick
        ? [20_000, 100_000]
        : [100_000, 1_000_000],
    scalingSizes: quick ? [2_000, 20_000, 100_000] : [10_000, 100_000, 1_000_000],
    formatRows: quick ? 20_000 : 100_000,
    awsRows: quick ? 10_000 : 100_000,
    keyedRows: Number(env.BENCH_KEYED_ROWS ?? (quick ? 100_000 : 1_000_000)),
    rulesRows: Number(env.BENCH_RULES_ROWS ?? (quick ? 100_000 : 1_000_000)),
    exportRows: Number(env.BENCH_EXPORT_ROWS ?? (quick ? 100_000 : 1_000_000)),
    pushSeconds: quick ? 3 : 6,
    pushClients: 16,
    readRows: quick ? 100_000 : 1_000_000,
    readSeconds: quick ? 3 : 6,
    readClients: 16,
    writeConcurrency: config.poller.writeConcurrency,
    baselineRef: env.BENCH_BASELINE_REF || undefined,
    baselineRows: Number(env.BENCH_BASELINE_ROWS ?? (quick ? 100_000 : 1_000_000)),
    dataDir: path.join(BENCH_DIR, '.data'),
    resultsFile: path.join(BENCH_DIR, '.results', 'latest.json'),
    serverNodeArgs: env.BENCH_SERVER_NODE_ARGS ? env.BENCH_SERVER_NODE_ARGS.split(/\s+/).filter(Boolean) : [],
  };
}

export function wanted(options: BenchOptions, group: string): boolean {
  return options.only === undefined || options.only.has(group);
}
