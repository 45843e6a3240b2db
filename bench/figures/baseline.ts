// The speed-up over an earlier release (BENCH_BASELINE_REF): the same CSV ingested by that
// commit's server and by this one, in pairs, on the same machine in the same run, each on
// a fresh data directory; printed as new rows/s over old rows/s, with both absolute rates.
import path from 'node:path';
import { baselineCheckout } from '../lib/baseline.js';
import { customerFile } from '../lib/customers.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';
import { intakeIngest, rowsLabel, type IntakeIngest } from './ingest.js';

export async function baselineFigures(options: BenchOptions, results: Results): Promise<void> {
  if (options.baselineRef === undefined) {
    results.note('baseline not measured: set BENCH_BASELINE_REF (e.g. f2c423b, the last release on the emulated DynamoDB) to compare with it');
    return;
  }
  const baseline = await baselineCheckout(options.baselineRef, options.dataDir, (text) => results.note(text));
  const rows = options.baselineRows;
  const file = await customerFile(path.join(options.dataDir, 'files'), 'csv', rows);
  const runs = rows >= 1_000_000 ? options.largeRuns : options.runs;
  const measured: Record<string, number>[] = [];
  for (let run = 0; run < runs; run++) {
    // Alternating which server goes first, so neither always meets the other's disk write-back.
    const ingestNew = () => intakeIngest(options, file, rows, undefined, false);
    const ingestOld = () => intakeIngest(options, file, rows, undefined, false, baseline.dir);
    let fresh: IntakeIngest;
    let old: IntakeIngest;
    if (run % 2 === 0) {
      fresh = await ingestNew();
      old = await ingestOld();
    } else {
      old = await ingestOld();
      fresh = await ingestNew();
    }
    measured.push({
      intakeRowsPerSecond: rows / fresh.seconds,
      baselineRowsPerSecond: rows / old.seconds,
      ratio: old.seconds / fresh.seconds,
      intakePeakAnonMiB: fresh.peakAnonMiB,
      baselinePeakAnonMiB: old.peakAnonMiB,
    });
  }
  const m = Object.fromEntries(Object.keys(measured[0]!).map((k) => [k, median(measured.map((r) => r[k]!))]));
  results.add({
    name: 'ingest_csv_vs_baseline',
    value: m.ratio!,
    unit: 'x',
    detail:
      `${rowsLabel(rows)} rows, embedded mode: intake ${fmt(m.intakeRowsPerSecond!)} rows/s, ${baseline.commit} ${fmt(m.baselineRowsPerSecond!)} rows/s ` +
      `(peak anonymous RSS ${fmt(m.intakePeakAnonMiB!)} vs ${fmt(m.baselinePeakAnonMiB!)} MiB)`,
    target: '>= 3',
    pass: m.ratio! >= 3,
    runs: measured,
    medians: m,
  });
}
