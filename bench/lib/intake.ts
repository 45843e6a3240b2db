// The Intake server under test: the real entry point, spawned as a child process on a
// fresh data directory, driven over HTTP as a client would.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, REPO_ROOT, spawnChild, type Child } from './children.js';
import { PeakRss } from './memory.js';

export interface IntakeOptions {
  dataDir: string;
  /** Keep what the directory holds (a restart over earlier data) instead of starting empty. */
  reuseData?: boolean;
  /** Extra environment, e.g. INTAKE_STORAGE=aws and its endpoints. */
  env?: Record<string, string>;
  /** Extra node flags for the server, e.g. --cpu-prof (BENCH_SERVER_NODE_ARGS). */
  nodeArgs?: string[];
  /** The checkout whose server runs: this one, or the baseline release's worktree. */
  root?: string;
}

export interface Project {
  id: string;
  key: string;
}

export interface JobResult {
  status: string;
  rowsRead: number;
  recordsWritten: number;
  rowsRejected: number;
  createdAt: string;
  finishedAt: string | null;
  failure: unknown;
  errors: unknown[];
}

export interface UploadResult {
  jobId: string;
  bytes: number;
  /** Milliseconds from the first byte sent to the 202. */
  ms: number;
}

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * Builds the server (`dist/`) as the image does, with `npm run build` (the console bundle
 * only when its sources changed). The bench measures what ships.
 */
export function buildServer(): void {
  execFileSync('npm', ['run', '--silent', 'build', '--', '--if-changed'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** BENCH_SERVER_ENV: settings for every server under test, e.g. `INTAKE_SQLITE_CACHE_MIB=32`. */
function serverEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_SERVER_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`BENCH_SERVER_ENV: expected NAME=value, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export class IntakeServer {
  private constructor(
    readonly child: Child,
    readonly base: string,
    readonly port: number,
    readonly adminToken: string,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  static async start(options: IntakeOptions): Promise<IntakeServer> {
    if (!options.reuseData) await fs.rm(options.dataDir, { recursive: true, force: true });
    await fs.mkdir(options.dataDir, { recursive: true });
    const port = await freePort();
    const adminToken = randomBytes(24).toString('hex');
    // Only what the bench sets: no INTAKE_* or AWS_* setting of the shell leaks in.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('INTAKE_') && !k.startsWith('AWS_')),
    );
    const env = {
      ...inherited,
      PORT: String(port),
      HOST: '127.0.0.1',
      INTAKE_DATA_DIR: options.dataDir,
      INTAKE_ADMIN_TOKEN: adminToken,
      INTAKE_POLL_INTERVAL_MS: '100',
      ...serverEnv(),
      ...options.env,
    };
    // This checkout's server runs as the image runs it, compiled (buildServer, before the
    // first figure); an earlier release's worktree runs from its sources, as it always did.
    const child =
      options.root === undefined
        ? spawnChild(['dist/main/server.js'], { env, nodeArgs: options.nodeArgs, tsx: false })
        : spawnChild(['src/main/server.ts'], { env, nodeArgs: options.nodeArgs, cwd: options.root });
    const server = new IntakeServer(child, `http://127.0.0.1:${port}`, port, adminToken);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > deadline) {
        await child.stop(1000);
        throw new Error(`Intake did not become healthy:\n${child.output().slice(-4000)}`);
      }
      try {
        const res = await fetch(`${server.base}/healthz`);
        if (res.ok) break;
      } catch {
        // Not listening yet.
      }
      const exitedEarly = await Promise.race([child.exited.then(() => true), sleep(100).then(() => false)]);
      if (exitedEarly) throw new Error(`Intake exited during start:\n${child.output().slice(-4000)}`);
    }
    return server;
  }

  peakRss(): PeakRss {
    return new PeakRss(this.pid);
  }

  /**
   * CPU seconds the server has used so far (user + system, all its threads), from
   * /proc/<pid>/stat. A ratio of two of these is steadier than one of wall times when
   * other work shares the machine.
   */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  async stop(): Promise<void> {
    await this.child.stop(60_000);
  }

  async api<T>(method: string, route: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
    const res = await fetch(`${this.base}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${options.token ?? this.adminToken}`,
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  /** A project with a key holding every scope and a rate limit no bench reaches. */
  async createProject(id: string): Promise<Project> {
    await this.api('POST', '/v1/projects', { body: { id, name: id } });
    const key = await this.api<{ key: string }>('POST', `/v1/projects/${id}/keys`, {
      body: {
        name: 'bench',
        scopes: ['records:write', 'records:read', 'files:write'],
        rateLimit: { requests: 1_000_000, windowSeconds: 1 },
      },
    });
    return { id, key: key.key };
  }

  /** PUT of a raw body, streamed; resolves at the 202. */
  upload(project: Project, fileName: string, body: Readable, length: number): Promise<UploadResult> {
    return putStream(
      `${this.base}/v1/projects/${project.id}/files/${encodeURIComponent(fileName)}`,
      body,
      length,
      { 'X-API-Key': project.key },
    ).then(({ status, text, ms }) => {
      if (status !== 202) throw new Error(`upload answered ${status}: ${text.slice(0, 500)}`);
      const parsed = JSON.parse(text) as { jobId: string; bytes: number };
      return { jobId: parsed.jobId, bytes: parsed.bytes, ms };
    });
  }

  uploadFile(project: Project, file: string, size: number): Promise<UploadResult> {
    return this.upload(project, path.basename(file), createReadStream(file, { highWaterMark: 1 << 20 }), size);
  }

  /** Polls the job until it is finished. */
  async waitForJob(project: Project, jobId: string, timeoutMs = 30 * 60_000): Promise<JobResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.api<JobResult>('GET', `/v1/projects/${project.id}/jobs/${jobId}`, { token: project.key });
      if (job.status === 'succeeded' || job.status === 'partial' || job.status === 'failed') return job;
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
      await sleep(50);
    }
  }
}

export function putStream(
  url: string,
  body: Readable,
  length: number,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(url, {
      method: 'PUT',
      agent,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - started }));
      res.on('error', reject);
    });
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

/** Milliseconds from the job's creation (the upload accepted) to its finish, by the server's clock. */
export function jobMs(job: JobResult): number {
  if (job.finishedAt === null) throw new Error('job has not finished');
  return Date.parse(job.finishedAt) - Date.parse(job.createdAt);
}
