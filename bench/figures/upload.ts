// Figure 1: a large PUT through Intake (embedded mode) vs a bare Node HTTP server
// streaming the same bytes to the same disk; and Intake's peak RSS meanwhile.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_DIR, spawnChild } from '../lib/children.js';
import { IntakeServer, putStream } from '../lib/intake.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median, MiB } from '../lib/stats.js';

/** The same pseudo-random MiB, sent over and over: no client-side disk reads, equal for both servers. */
function body(total: number, block: Buffer): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(block.length, total - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** Lets the disk finish what earlier writes and deletes queued before the next timed upload. */
async function settleDisk(): Promise<void> {
  execFileSync('sync');
  await sleep(500);
}

export async function uploadFigures(options: BenchOptions, results: Results): Promise<void> {
  const block = randomBytes(MiB);
  const total = options.uploadBytes;
  const root = path.join(options.dataDir, 'upload');
  const bareDir = path.join(root, 'bare');
  // The poller is off: the uploaded bytes are random, and ingesting them (a failing job)
  // would load the machine during the next run. The upload path is the same either way.
  const intake = await IntakeServer.start({ dataDir: path.join(root, 'intake'), env: { INTAKE_POLLER: 'off' }, nodeArgs: options.serverNodeArgs });
  const bare = spawnChild([path.join(BENCH_DIR, 'ceilings', 'bare-upload-server.ts'), bareDir]);
  const anonPeaks: number[] = [];
  const runs: { intakeMiBps: number; ceilingMiBps: number; ratio: number; peakRssMiB: number }[] = [];
  try {
    const barePort = Number(await bare.waitFor(/LISTENING (\d+)/, 30_000));
    const project = await intake.createProject('bench-upload');
    for (let run = 0; run < options.uploadRuns; run++) {
      // Alternating which goes first keeps disk write-back from one from favouring the other.
      const measureIntake = async () => {
        const peak = intake.peakRss();
        peak.start();
        const up = await intake.upload(project, 'big.bin', body(total, block), total);
        const peakMiB = peak.stop();
        anonPeaks.push(peak.anonPeak());
        if (up.bytes !== total) throw new Error(`Intake stored ${up.bytes} of ${total} bytes`);
        return { ms: up.ms, peakMiB };
      };
      const measureBare = async () => {
        const res = await putStream(`http://127.0.0.1:${barePort}/upload`, body(total, block), total, {});
        if (res.status !== 201) throw new Error(`bare server answered ${res.status}`);
        return res.ms;
      };
      // Each upload's file is deleted, and the disk settled, before the next one starts:
      // the second of a pair otherwise ran beside the first one's gigabyte on disk and
      // came out up to 2x slower, whichever server it was.
      const clearIntake = () => fs.rm(path.join(root, 'intake', 'objects', 'intake-bench-upload', 'incoming'), { recursive: true, force: true });
      const clearBare = async () => {
        await fs.rm(bareDir, { recursive: true, force: true });
        await fs.mkdir(bareDir, { recursive: true });
      };
      let up: { ms: number; peakMiB: number };
      let bareMs: number;
      if (run % 2 === 0) {
        up = await measureIntake();
        await clearIntake();
        await settleDisk();
        bareMs = await measureBare();
        await clearBare();
      } else {
        bareMs = await measureBare();
        await clearBare();
        await settleDisk();
        up = await measureIntake();
        await clearIntake();
      }
      const intakeRate = total / MiB / (up.ms / 1000);
      const bareRate = total / MiB / (bareMs / 1000);
      runs.push({ intakeMiBps: intakeRate, ceilingMiBps: bareRate, ratio: intakeRate / bareRate, peakRssMiB: up.peakMiB });
      await settleDisk();
    }
  } finally {
    await Promise.all([intake.stop(), bare.stop()]);
    await fs.rm(root, { recursive: true, force: true });
  }
  const m = {
    intakeMiBps: median(runs.map((r) => r.intakeMiBps)),
    ceilingMiBps: median(runs.map((r) => r.ceilingMiBps)),
    ratio: median(runs.map((r) => r.ratio)),
    peakRssMiB: median(runs.map((r) => r.peakRssMiB)),
    maxPeakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
  };
  const size = total >= 1024 * MiB ? `${total / 1024 / MiB} GiB` : `${total / MiB} MiB`;
  results.add({
    name: 'upload_throughput_ratio',
    value: m.ratio,
    unit: 'ratio',
    detail: `${size} PUT: intake ${fmt(m.intakeMiBps)} MiB/s, ceiling ${fmt(m.ceilingMiBps)} MiB/s (bare Node server, fsync before answering)`,
    target: '>= 0.9',
    pass: m.ratio >= 0.9,
    runs,
    medians: m,
  });
  results.add({
    name: 'upload_peak_rss_mib',
    value: m.maxPeakRssMiB,
    unit: 'MiB',
    detail: `peak RSS of the Intake server during a ${size} PUT, highest of ${runs.length} runs (anonymous ${fmt(Math.max(...anonPeaks))} MiB)`,
    target: '< 150',
    pass: m.maxPeakRssMiB < 150,
    runs,
    medians: m,
  });
}
