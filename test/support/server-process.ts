// Runs the real Intake server as a child process for e2e tests, as a user or a container
// would: `node --import tsx src/main/server.ts` by default, or any command (the built
// `node dist/main/server.js`). The server is ready once GET /healthz answers 200.
//
//   const server = await spawnServer({ env: { INTAKE_DATA_DIR: dir } });
//   try { await fetch(`${server.baseUrl}/readyz`) } finally { await server.stop() }
//
// stop() sends a signal (SIGTERM by default), waits for the exit and SIGKILLs a child
// that outlives its grace period. Children still running when the test process exits are
// SIGKILLed, so a failed test cannot leave a server holding a port.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { findFreePort } from './emulators.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A long enough admin token for either storage mode. */
export const E2E_ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdefghijklmnopqrstuvwxyz';

export interface SpawnServerOptions {
  /** Added to (and overriding) a clean environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Working directory; the repository root by default. */
  cwd?: string;
  /** Executable and arguments; `node --import tsx src/main/server.ts` by default. */
  command?: readonly string[];
  /** How long to wait for /healthz; 30 s by default. */
  startTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the last signal sent (or from spawn, when none was) to the exit. */
  ms: number;
}

export interface ServerProcess {
  readonly baseUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Everything written to stdout and stderr so far, interleaved. */
  logs(): string;
  /** The JSON log lines (winston's output) written to stdout so far. */
  events(): Array<Record<string, unknown>>;
  /** Sends a signal without waiting. */
  signal(signal?: NodeJS.Signals): void;
  /** Sends `signal`, waits for the exit, and SIGKILLs after `graceMs` (30 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  /** Resolves when the process has exited; rejects after `timeoutMs` if given. */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  readonly exited: boolean;
}

const MAX_LOG_CHARS = 4_000_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Variables from the developer's shell that would change what the server does. */
function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(INTAKE_|AWS_|NODE_OPTIONS$|PORT$|HOST$|VITEST|NODE_ENV$)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

export async function spawnServer(options: SpawnServerOptions = {}): Promise<ServerProcess> {
  const portGiven = options.env?.PORT !== undefined;
  // The free port is found before the child binds it; another process can take it in
  // between, and the child then exits with EADDRINUSE: try again with a new port.
  for (let attempt = 1; ; attempt++) {
    const port = portGiven ? Number(options.env!.PORT) : await findFreePort();
    try {
      return await startOnce(options, port);
    } catch (error) {
      if (portGiven || attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

async function startOnce(options: SpawnServerOptions, port: number): Promise<ServerProcess> {
  const env: Record<string, string> = {
    ...cleanEnvironment(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    HOST: '127.0.0.1',
    PORT: String(port),
    INTAKE_LOG_LEVEL: 'info',
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const [file, ...args] = options.command ?? [process.execPath, '--import', 'tsx', 'src/main/server.ts'];
  const spawnedAt = Date.now();
  const child = spawn(file!, args, { cwd: options.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);

  let output = '';
  let stdoutText = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-MAX_LOG_CHARS);
    stdoutText = (stdoutText + chunk).slice(-MAX_LOG_CHARS);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-MAX_LOG_CHARS);
  });

  let lastSignalAt = spawnedAt;
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal, ms: Date.now() - lastSignalAt };
      resolve(exitInfo);
    });
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`;
      exitInfo = { code: null, signal: null, ms: Date.now() - lastSignalAt };
      resolve(exitInfo);
    });
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = spawnedAt + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exitInfo) {
      throw new Error(`server exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before it was healthy:\n${output}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`server was not healthy within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`);
    }
    try {
      const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await Promise.race([delay(50), exited]);
  }

  const waitForExit = async (timeoutMs?: number): Promise<ExitInfo> => {
    if (timeoutMs === undefined) return exited;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`server did not exit within ${timeoutMs} ms:\n${output.slice(-4000)}`)), timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const sendSignal = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exitInfo) return;
    lastSignalAt = Date.now();
    child.kill(signal);
  };

  return {
    baseUrl,
    port,
    pid: child.pid!,
    logs: () => output,
    events: () => parseJsonLines(stdoutText),
    signal: sendSignal,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000) {
      if (exitInfo) return exitInfo;
      sendSignal(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    waitForExit,
    get exited() {
      return exitInfo !== undefined;
    },
  };
}

function parseJsonLines(text: string): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by the log cap, or not JSON after all.
    }
  }
  return events;
}

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous: nothing asynchronous runs in an 'exit' handler.
  process.on('exit', () => {
    for (const leftover of running) leftover.kill('SIGKILL');
  });
}

export interface RunToExitOptions {
  /** Added to (and overriding) a clean environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Executable and arguments; the server from source by default. */
  command?: readonly string[];
  /** SIGKILLed after this long (30 s by default), and the promise rejects. */
  timeoutMs?: number;
  /** Called with the output so far on every chunk; return true to SIGKILL the process. */
  killWhen?: (output: string) => boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

/**
 * Runs a process that is expected to end on its own (a server that refuses to start, a
 * command such as `npm run migrate-data`) with the same clean environment as spawnServer.
 */
export async function runToExit(options: RunToExitOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {
    ...cleanEnvironment(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    HOST: '127.0.0.1',
    PORT: '0',
    INTAKE_LOG_LEVEL: 'info',
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const [file, ...args] = options.command ?? [process.execPath, '--import', 'tsx', 'src/main/server.ts'];
  const child = spawn(file!, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const onChunk = (chunk: string) => {
    output = (output + chunk).slice(-MAX_LOG_CHARS);
    if (options.killWhen?.(output)) child.kill('SIGKILL');
  };
  child.stdout.setEncoding('utf8').on('data', onChunk);
  child.stderr.setEncoding('utf8').on('data', onChunk);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  clearTimeout(timer);
  if (timedOut) throw new Error(`${[file, ...args].join(' ')} did not exit within ${timeoutMs} ms:\n${output.slice(-4000)}`);
  return { code, signal, output };
}
