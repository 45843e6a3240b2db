// `npm run bench`: measures Intake against ceilings measured in the same run and prints
// one line per figure (`name ratio (details)`); the same goes to bench/.results/latest.json.
// See bench/README.md for the figures, the ceilings and the knobs (BENCH_QUICK=1 ...).
import fs from 'node:fs/promises';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { baselineFigures } from './figures/baseline.js';
import { awsIngestFigures, ingestFigures, keptDataset, scalingFigures } from './figures/ingest.js';
import { exportFigures } from './figures/export.js';
import { keyedFigures } from './figures/keyed.js';
import { pushFigures } from './figures/push.js';
import { readFigures } from './figures/read.js';
import { rulesFigures } from './figures/rules.js';
import { uploadFigures } from './figures/upload.js';
import { withEmulators } from './lib/emulators.js';
import { buildServer } from './lib/intake.js';
import { benchOptions, wanted } from './lib/options.js';
import { Results } from './lib/results.js';
import { REPO_ROOT } from './lib/children.js';

const options = benchOptions();
const results = new Results();
const started = Date.now();
await fs.mkdir(options.dataDir, { recursive: true });
console.log(
  `# Intake bench${options.quick ? ' (quick)' : ''}: ${options.runs} run(s) per figure (${options.largeRuns} at 1M rows), ` +
    `median reported; ${os.cpus().length} cores, node ${process.version}`,
);

buildServer();

const groups: [string, () => Promise<void>][] = [
  ['upload', () => uploadFigures(options, results)],
  ['ingest', () => ingestFigures(options, results)],
  ['scaling', () => scalingFigures(options, results)],
  ['push', () => pushFigures(options, results)],
  ['read', () => readFigures(options, results)],
  ['keyed', () => keyedFigures(options, results)],
  ['rules', () => rulesFigures(options, results)],
  ['export', () => exportFigures(options, results)],
  ['aws', () => withEmulators((aws) => awsIngestFigures(options, results, aws))],
  ['baseline', () => baselineFigures(options, results)],
];

let failed = false;
for (const [name, run] of groups) {
  if (!wanted(options, name)) continue;
  const at = Date.now();
  try {
    await run();
  } catch (error) {
    failed = true;
    results.note(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  results.note(`${name} took ${Math.round((Date.now() - at) / 1000)} s`);
}

// The dataset kept for the read figures, when they did not run.
const kept = keptDataset();
if (kept) await fs.rm(kept.dataDir, { recursive: true, force: true });

const durationSeconds = Math.round((Date.now() - started) / 1000);
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // Not a git checkout.
}
await results.write(options.resultsFile, {
  quick: options.quick,
  runs: options.runs,
  largeRuns: options.largeRuns,
  commit,
  cpus: os.cpus().length,
  node: process.version,
});
const missed = results.figures.filter((f) => f.pass === false).map((f) => f.name);
console.log(`# total ${durationSeconds} s; ${results.figures.length} figures, ${missed.length} below target${missed.length ? `: ${missed.join(', ')}` : ''}`);
console.log(`# results written to ${options.resultsFile}`);
process.exit(failed ? 1 : 0);
