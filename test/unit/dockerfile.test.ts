import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// No Docker engine runs where these tests run, so the image cannot be built here. These
// tests hold the Dockerfile to its contract by reading it, and run its health probe.

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions, joining `\` continuations and dropping comments. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical.filter((l) => l !== '')) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === 'FROM') {
      const [, from = '', name] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      args.push(instruction);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const { args: globalArgs, stages } = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1)!;
const stageNamed = (name: string) => stages.find((s) => s.name === name);
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runs = (stage: Stage) => all(stage, 'RUN').map((i) => i.args);

/** Every stage a stage builds on (FROM <stage>), itself included. */
function lineage(stage: Stage): Stage[] {
  const parent = stageNamed(stage.from);
  return parent ? [stage, ...lineage(parent)] : [stage];
}

function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of lineage(stage).reverse()) {
    for (const { args } of all(s, 'ENV')) {
      for (const [, key = '', value = ''] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[key] = value.replace(/"/g, '');
    }
  }
  return env;
}

function copiesFrom(stage: Stage): Array<{ from: string | undefined; sources: string[]; target: string }> {
  return all(stage, 'COPY').map(({ args }) => {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from, sources: paths.slice(0, -1), target: paths.at(-1)! };
  });
}

describe('Dockerfile', () => {
  it('is multi-stage on a pinned, maintained Node LTS slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(runtime.name).toBe('runtime');
    const major = /NODE_MAJOR=(\d+)/.exec(globalArgs.map((a) => a.args).join(' '))?.[1];
    expect(['22', '24']).toContain(major);
    for (const stage of stages.filter((s) => !stageNamed(s.from))) {
      expect(stage.from).toMatch(/^node:\$\{NODE_MAJOR\}-(bookworm-)?slim$/);
    }
  });

  it('builds with dev dependencies and ships production dependencies only', () => {
    const builder = stages.find((s) => runs(s).some((r) => r.includes('npm run build')))!;
    expect(builder).toBeDefined();
    const builderRuns = lineage(builder).flatMap(runs);
    expect(builderRuns.some((r) => /npm ci(?!.*--omit=dev)/.test(r))).toBe(true);

    const copies = copiesFrom(runtime);
    const modules = copies.find((c) => c.sources.some((s) => s.includes('node_modules')));
    expect(modules?.from).toBeDefined();
    const prodDeps = stageNamed(modules!.from!)!;
    expect(lineage(prodDeps).flatMap(runs).some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    // The production tree is installed fresh, never pruned from the build tree.
    expect(lineage(prodDeps)).not.toContain(builder);

    const dist = copies.find((c) => c.sources.some((s) => s.includes('dist')));
    expect(dist?.from).toBe(builder.name);
    expect(runs(runtime).some((r) => r.includes('npm ci'))).toBe(false);
    // The service serves openapi.yaml and reads package.json at run time.
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    expect(fromContext).toEqual(expect.arrayContaining(['package.json', 'openapi.yaml']));
  });

  it('runs in production mode, in aws storage mode, on port 8080, as a non-root user', () => {
    expect(envOf(runtime)).toMatchObject({ NODE_ENV: 'production', INTAKE_STORAGE: 'aws', PORT: '8080' });
    const users = all(runtime, 'USER').map((u) => u.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    // Nothing after USER runs as root again in the final image.
    const lastUser = runtime.instructions.findLastIndex((i) => i.keyword === 'USER');
    expect(runtime.instructions.slice(lastUser).some((i) => i.keyword === 'RUN')).toBe(false);
    expect(all(runtime, 'EXPOSE').map((e) => e.args)).toEqual(['8080']);
  });

  it('starts the compiled server under tini, which forwards signals as PID 1', () => {
    expect(runs(runtime).some((r) => /apt-get install[^&]*\btini\b/.test(r))).toBe(true);
    expect(JSON.parse(all(runtime, 'ENTRYPOINT').at(-1)!.args)).toEqual(['/usr/bin/tini', '--']);
    const cmd = JSON.parse(all(runtime, 'CMD').at(-1)!.args) as string[];
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(cmd.join(' ')).toBe(pkg.scripts['start:prod']);
    expect(all(runtime, 'STOPSIGNAL').map((s) => s.args)).toEqual(['SIGTERM']);
  });

  it('checks health with node against /healthz, from a file the image contains', () => {
    const [healthcheck] = all(runtime, 'HEALTHCHECK');
    expect(healthcheck?.args).toMatch(/--interval=\d+s/);
    const cmd = JSON.parse(/CMD\s+(\[.*\])$/.exec(healthcheck!.args)![1]!) as string[];
    expect(cmd).toEqual(['node', '/app/docker/healthcheck.mjs']);
    expect(all(runtime, 'WORKDIR').at(-1)?.args).toBe('/app');
    expect(copiesFrom(runtime).some((c) => c.sources.includes('docker/healthcheck.mjs'))).toBe(true);
    expect(read('docker/healthcheck.mjs')).toContain("'/healthz'");
  });

  it('copies from the build context only what .dockerignore lets through', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
    const fromContext = stages.flatMap((s) => copiesFrom(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) expect(allowed, source).toContain(source.replace(/\/$/, ''));
    for (const path of allowed) expect(existsSync(`${root}${path}`), path).toBe(true);
  });

  it('skips install scripts only where the lockfile has none that the image needs', () => {
    // `npm ci --ignore-scripts` is safe while the install scripts in the lockfile are
    // these: a telemetry ping and classic-level's prebuild check in production (its bundled
    // binaries load at run time), better-sqlite3's (the Dockerfile compiles it itself, see
    // the next test), and esbuild's binary shortcut in development (used by tsx, not by
    // `npm run build`). A new one may need a compile step: review the Dockerfile, then
    // extend these lists.
    const known = { production: ['@scarf/scarf', 'classic-level', 'better-sqlite3'], development: ['esbuild'] };
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
    };
    for (const [path, info] of Object.entries(lock.packages)) {
      if (!info.hasInstallScript) continue;
      const name = path.replace(/^.*node_modules\//, '');
      expect(info.dev ? known.development : known.production, name).toContain(name);
    }
    for (const stage of stages) {
      for (const r of runs(stage).filter((r) => r.includes('npm ci'))) expect(r).toContain('--ignore-scripts');
    }
  });

  it('compiles the native SQLite binding for the target platform, and builds the rest on the build platform', () => {
    // better-sqlite3 is a native addon: the production tree that ships must be installed on
    // the image's own platform (linux/amd64 or linux/arm64), and its binary compiled there
    // from source (no download of prebuilt binaries or headers), then loaded once to prove it.
    const text = read('Dockerfile');
    const copies = copiesFrom(runtime);
    const prodDeps = stageNamed(copies.find((c) => c.sources.some((s) => s.includes('node_modules')))!.from!)!;
    expect(lineage(prodDeps).map((s) => s.name)).not.toContain('base');
    expect(text).not.toMatch(new RegExp(`^FROM --platform=\\S+ \\S+ AS ${prodDeps.name}$`, 'm'));
    const prodRuns = runs(prodDeps).join('\n');
    expect(prodRuns).toMatch(/apt-get install[^&]*\bpython3\b[^&]*\bmake\b[^&]*\bg\+\+/);
    expect(prodRuns).toMatch(/npm rebuild better-sqlite3 --build-from-source/);
    expect(prodRuns).toContain("require('better-sqlite3')");
    expect(envOf(prodDeps).npm_config_nodedir).toBe('/usr/local');
    // The compilers stay in the prod-deps stage: the runtime stage installs none.
    expect(runs(runtime).join(' ')).not.toMatch(/\bg\+\+|\bmake\b|python3/);
    // Every other production package is plain JavaScript or ships binaries for both
    // platforms. snappy is the one whose binaries come as per-platform optional packages:
    // the stage installs on the target platform, so npm picks the right one, and loads it.
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; cpu?: string[]; os?: string[] }>;
    };
    const tied = Object.entries(lock.packages).filter(([, info]) => !info.dev && (info.cpu || info.os));
    for (const [path, info] of tied) {
      expect(path).toMatch(/^node_modules\/@napi-rs\/snappy-/);
      expect(info.optional, path).toBe(true);
    }
    for (const target of ['linux-x64-gnu', 'linux-arm64-gnu']) {
      expect(lock.packages[`node_modules/@napi-rs/snappy-${target}`], target).toBeDefined();
    }
    expect(prodRuns).toContain("require('snappy')");
    // TypeScript is compiled once, on the build machine's platform.
    expect(text).toMatch(/^FROM --platform=\$BUILDPLATFORM \S+ AS base$/m);
    expect(runtime.from).not.toBe('base');
  });
});

describe('docker/healthcheck.mjs', () => {
  const execFileAsync = promisify(execFile);
  let server: http.Server;
  let port = 0;
  let status = 200;
  const paths: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  const probe = (probePort: number) =>
    execFileAsync(process.execPath, [`${root}docker/healthcheck.mjs`], {
      env: { PATH: process.env.PATH, PORT: String(probePort), INTAKE_HEALTHCHECK_TIMEOUT_MS: '2000' },
      timeout: 10_000,
    }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1,
    );

  it('exits 0 when /healthz answers 2xx', async () => {
    status = 200;
    expect(await probe(port)).toBe(0);
    expect(paths.at(-1)).toBe('/healthz');
  });

  it('exits 1 when /healthz answers an error', async () => {
    status = 503;
    expect(await probe(port)).toBe(1);
  });

  it('exits 1 when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await probe(freePort)).toBe(1);
  });
});
