import fs from 'node:fs';
import { MiB } from './stats.js';

function statusField(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon'): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident memory of a process over a window: the kernel's high-water mark
 * (VmHWM, reset at the start of the window through /proc/<pid>/clear_refs when the
 * kernel allows it) and, as a cross-check that also works where it does not, VmRSS
 * sampled every 50 ms. The larger of the two is the peak.
 *
 * Also the peak of RssAnon, the process's own memory without file-backed pages (the
 * code and libraries mapped into it, which are the same at every size): what the work in
 * hand holds.
 */
export class PeakRss {
  private sampled = 0;
  private anon = 0;
  private timer: NodeJS.Timeout | undefined;
  private hwmReset = false;

  constructor(private readonly pid: number) {}

  start(): void {
    try {
      fs.writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.sampled = 0;
    this.anon = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  private sample(): void {
    this.sampled = Math.max(this.sampled, statusField(this.pid, 'VmRSS') ?? 0);
    this.anon = Math.max(this.anon, statusField(this.pid, 'RssAnon') ?? 0);
  }

  /** Peak RssAnon in MiB, sampled; valid after stop(). */
  anonPeak(): number {
    return this.anon / MiB;
  }

  /** Peak in MiB since start(). */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    const hwm = this.hwmReset ? (statusField(this.pid, 'VmHWM') ?? 0) : 0;
    return Math.max(this.sampled, hwm) / MiB;
  }
}

export function currentRssMiB(pid: number): number {
  return (statusField(pid, 'VmRSS') ?? 0) / MiB;
}
