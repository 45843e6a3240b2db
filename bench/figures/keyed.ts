// Customer records (issue: customer key and upserts): the same 1M-row CSV ingested into a
// keyed project (`merge`, 200k customers, each customer's 5 rows spread across the file)
// and into an unkeyed project, on fresh servers in the same run; and `GET records/by-key`
// latency against `GET records/{id}` of the same customers on the same server.
import fs from 'node:fs/promises';
import path from 'node:path';
import { customerFile, keyedCustomer } from '../lib/customers.js';
import { IntakeServer } from '../lib/intake.js';
import { closedLoop, httpGetter } from '../lib/latency.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';
import { intakeIngest, rowsLabel } from './ingest.js';

/** The CSV's Email column is the customer key, trimmed and lowercased as sources differ in case. */
const MODEL = {
  key: { fields: ['Email'], normalize: { Email: ['trim', 'lowercase'] } },
  merge: 'merge',
  indexes: ['Country'],
};

export async function keyedFigures(options: BenchOptions, results: Results): Promise<void> {
  const rows = options.keyedRows;
  const customers = Math.max(1, Math.round(rows / 5));
  const file = await customerFile(path.join(options.dataDir, 'files'), 'csv', rows, customers);
  const runs: Record<string, number>[] = [];
  const count = rows >= 1_000_000 ? options.keyedLargeRuns : options.runs;
  let lookup: { dataDir: string; projectId: string; key: string } | undefined;
  for (let run = 0; run < count; run++) {
    const plain = await intakeIngest(options, file, rows, undefined, false);
    const last = run === count - 1;
    const keyed = await intakeIngest(options, file, rows, undefined, last, undefined, MODEL);
    if (last) lookup = { dataDir: keyed.dataDir, projectId: keyed.project.id, key: keyed.project.key };
    runs.push({
      rows,
      customers,
      plainSeconds: plain.seconds,
      keyedSeconds: keyed.seconds,
      plainRowsPerSecond: rows / plain.seconds,
      keyedRowsPerSecond: rows / keyed.seconds,
      keyedPeakAnonMiB: keyed.peakAnonMiB,
      plainPeakAnonMiB: plain.peakAnonMiB,
      ratio: plain.seconds / keyed.seconds,
      plainCpuSeconds: plain.cpuSeconds,
      keyedCpuSeconds: keyed.cpuSeconds,
      cpuRatio: plain.cpuSeconds / keyed.cpuSeconds,
    });
  }
  const m = (k: string) => median(runs.map((r) => r[k]!));
  results.add({
    name: `ingest_keyed_csv_${rowsLabel(rows)}_vs_unkeyed_ratio`,
    value: m('ratio'),
    unit: 'ratio',
    detail:
      `${rowsLabel(rows)} rows, ${fmt(customers)} customers (merge, key Email trimmed and lowercased, index Country): ` +
      `keyed ${fmt(m('keyedRowsPerSecond'))} rows/s, unkeyed ${fmt(m('plainRowsPerSecond'))} rows/s; ` +
      `server CPU keyed ${fmt(m('keyedCpuSeconds'))} s, unkeyed ${fmt(m('plainCpuSeconds'))} s (ratio ${fmt(m('cpuRatio'))}); ` +
      `peak anonymous RSS keyed ${fmt(m('keyedPeakAnonMiB'))} MiB, unkeyed ${fmt(m('plainPeakAnonMiB'))} MiB`,
    target: '>= 0.5',
    pass: m('ratio') >= 0.5,
    runs,
    medians: Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, m(k)])),
  });
  if (lookup) {
    try {
      await lookupFigure(options, results, lookup, rows, customers);
    } finally {
      await fs.rm(lookup.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * 16 closed-loop clients on the keyed project: first `GET records/{id}` of sampled
 * customers (ids read once by key, untimed), then `GET records/by-key?Email=` of the same
 * customers, on one server. Both answer the same record; the ratio is by-key p50 over by-id p50.
 */
async function lookupFigure(
  options: BenchOptions,
  results: Results,
  lookup: { dataDir: string; projectId: string; key: string },
  rows: number,
  customers: number,
): Promise<void> {
  const server = await IntakeServer.start({ dataDir: lookup.dataDir, reuseData: true, nodeArgs: options.serverNodeArgs });
  const client = httpGetter(options.readClients);
  try {
    const headers = { 'X-API-Key': lookup.key };
    const base = `${server.base}/v1/projects/${lookup.projectId}/records`;
    const emails: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) {
      const email = `customer${keyedCustomer(1 + ((i * 104729) % rows), customers)}@example.com`;
      const record = JSON.parse(await client.get(`${base}/by-key?Email=${encodeURIComponent(email)}`, headers)) as { id: string };
      emails.push(email);
      ids.push(record.id);
    }
    const pick = () => Math.floor(Math.random() * ids.length);
    const byId = await closedLoop(() => client.get(`${base}/${ids[pick()]}`, headers).then(() => undefined), options.readClients, options.readSeconds * 1000);
    const byKey = await closedLoop(
      () => client.get(`${base}/by-key?Email=${encodeURIComponent(emails[pick()]!)}`, headers).then(() => undefined),
      options.readClients,
      options.readSeconds * 1000,
    );
    const value = byKey.p50Ms / byId.p50Ms;
    results.add({
      name: 'read_by_key_p50_vs_by_id_ratio',
      value,
      unit: 'x',
      detail:
        `${options.readClients} clients over ${fmt(customers)} customers: by-key p50 ${fmt(byKey.p50Ms)} ms (p99 ${fmt(byKey.p99Ms)}, ${fmt(byKey.requestsPerSecond)} req/s), ` +
        `by id p50 ${fmt(byId.p50Ms)} ms (p99 ${fmt(byId.p99Ms)}, ${fmt(byId.requestsPerSecond)} req/s)`,
      target: '<= 1.5',
      pass: value <= 1.5,
      runs: [{ byKeyP50Ms: byKey.p50Ms, byIdP50Ms: byId.p50Ms, byKeyP99Ms: byKey.p99Ms, byIdP99Ms: byId.p99Ms }],
      medians: { ratio: value, byKeyP50Ms: byKey.p50Ms, byIdP50Ms: byId.p50Ms },
    });
  } finally {
    client.close();
    await server.stop();
  }
}
