// Child processes of the bench: the Intake server under test, the bare ceiling servers,
// and one-shot ceiling measurements. Each runs in its own process so that its CPU and
// memory are its own, and each is killed by its own pid when the bench ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH_DIR = path.join(REPO_ROOT, 'bench');

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote so far (stdout and stderr, last 64 KiB). */
  output(): string;
  /** Resolves with the first capture group of `pattern` once it appears in stdout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  /** Where the child runs and resolves `tsx` from: another checkout (the baseline release) has its own. */
  cwd?: string;
  /** Load TypeScript through tsx (the default); false for compiled JavaScript. */
  tsx?: boolean;
}

export function spawnChild(args: string[], options: SpawnOptions = {}): Child {
  hookExit();
  const loader = options.tsx === false ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(options.env ?? process.env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-65536);
    for (const waiter of waiters) waiter();
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString()).slice(-65536);
    append(chunk);
  });
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(child);
      for (const waiter of waiters) waiter();
      resolve(code);
    });
    child.once('error', () => resolve(null));
  });
  let ended = false;
  void exited.then(() => (ended = true));

  return {
    process: child,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stdout);
          if (match) {
            done();
            resolve(match[1] ?? match[0]);
          } else if (ended) {
            done();
            reject(new Error(`child ${args.join(' ')} exited before ${pattern}:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`child ${args.join(' ')} did not print ${pattern} within ${timeoutMs} ms:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 30_000) {
      if (ended) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

let inputs = 0;

/** Runs a one-shot ceiling script and returns the JSON it prints as `RESULT {...}`. */
export async function runCeiling<T>(script: string, input: unknown, env?: NodeJS.ProcessEnv): Promise<T> {
  // The input goes through a file: a list of ids is too long for a command line.
  const inputFile = path.join(BENCH_DIR, '.data', `ceiling-input-${process.pid}-${++inputs}.json`);
  await fs.mkdir(path.dirname(inputFile), { recursive: true });
  await fs.writeFile(inputFile, JSON.stringify(input));
  const child = spawnChild([path.join(BENCH_DIR, 'ceilings', script), inputFile], { env });
  const code = await child.exited;
  await fs.rm(inputFile, { force: true });
  const match = /^RESULT (.*)$/m.exec(child.output());
  if (code !== 0 || !match) {
    throw new Error(`ceiling ${script} failed (exit ${code}):\n${child.output().slice(-4000)}`);
  }
  return JSON.parse(match[1]!) as T;
}

/** For ceiling scripts: their input (the JSON file named by argv[2]) and how they report. */
export function ceilingInput<T>(): T {
  const file = process.argv[2];
  if (!file) throw new Error('usage: <ceiling script> <input.json>');
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function reportResult(result: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}
