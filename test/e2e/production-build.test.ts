// SLOW (~30-60 s; npm ci of the production tree plus a tsc build): the production file
// set, built as the Dockerfile builds it, started with the Dockerfile's command against
// the test emulators. No Docker engine runs here, so this stands in for `docker run`:
// it fails when a runtime import needs a dev dependency, when a file the service reads at
// run time is missing from the image, or when the build needs a file the image lacks.
//
// The Dockerfile is read, not paraphrased: its COPY lines say which files go where, the
// prod-deps stage's `npm ci` runs as written, and its CMD starts the server. One liberty:
// the full (dev) tree of the deps stage is the repository's own node_modules, installed
// from the same lockfile, rather than a second install.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { testAwsEnv, uniqueName } from '../support/endpoints.js';
import { waitFor } from '../support/http-client.js';
import { E2E_ADMIN_TOKEN, REPO_ROOT, spawnServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** The Dockerfile's stages as logical lines (continuations joined, comments dropped). */
async function readDockerfile(): Promise<Stage[]> {
  const text = (await fs.readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM (?:--platform=\S+ )?(\S+)(?: AS (\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? `stage${stages.length}`, lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/** Environment for npm and node children: none of this run's npm_* or tool variables. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$|NODE_PATH$|INTAKE_|AWS_|VITEST)/i.test(k)));
}

async function copyInto(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.cp(from, to, { recursive: true });
}

/**
 * Runs the Dockerfile's COPY and npm steps, each stage in a directory of its own. Stages
 * run concurrently, as BuildKit runs them: a stage waits only for the stages it copies
 * from or is built FROM (prod-deps' npm ci overlaps the tsc build).
 */
async function buildFileSet(stages: Stage[], workDir: string): Promise<{ appDir: string; command: string[] }> {
  const dirs = new Map<string, string>();
  const done = new Map<string, Promise<void>>();
  let command: string[] = [];
  const runStage = async (stage: Stage, dir: string) => {
    // A stage built FROM another stage starts from a copy of that stage's files.
    const parent = done.get(stage.from);
    if (parent) {
      await parent;
      await fs.cp(dirs.get(stage.from)!, dir, { recursive: true, verbatimSymlinks: true });
    }
    await fs.mkdir(dir, { recursive: true });
    for (const line of stage.lines) {
      const copy = /^COPY (?:--chown=\S+ )?(?:--from=(\S+) )?(.+) (\S+)$/.exec(line);
      if (copy) {
        const [, fromStage, sources, target] = copy;
        if (fromStage) await done.get(fromStage);
        for (const source of sources!.split(' ')) {
          const origin = fromStage ? path.join(dirs.get(fromStage)!, path.relative('/app', source)) : path.join(REPO_ROOT, source);
          const destination = target!.endsWith('/') ? path.join(dir, target!, path.basename(source)) : path.join(dir, target!);
          await copyInto(origin, destination);
        }
        continue;
      }
      const npm = /^RUN (?:--mount=\S+ )*(npm .+)$/.exec(line);
      if (npm) {
        const args = npm[1]!.split(' ').slice(1);
        if (args[0] === 'ci' && !args.includes('--omit=dev')) {
          await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
          continue;
        }
        const extra = args[0] === 'ci' ? ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'] : [];
        await run('npm', [...args, ...extra], { cwd: dir, env: childEnv(), maxBuffer: 16 << 20 });
        continue;
      }
      const cmd = /^CMD (\[.*\])$/.exec(line);
      if (cmd) command = JSON.parse(cmd[1]!) as string[];
    }
  };
  for (const stage of stages) {
    const dir = path.join(workDir, stage.name);
    dirs.set(stage.name, dir);
    const work = runStage(stage, dir);
    work.catch(() => undefined);
    done.set(stage.name, work);
  }
  await Promise.all(done.values());
  return { appDir: dirs.get(stages.at(-1)!.name)!, command };
}

/** Bare specifiers (packages) that the compiled code imports. */
async function importedPackages(distDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const files = (await fs.readdir(distDir, { recursive: true })).filter((f) => f.endsWith('.js'));
  for (const file of files) {
    const code = await fs.readFile(path.join(distDir, file), 'utf8');
    for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"./][^'"]*)['"]/g)) {
      const specifier = match[1]!;
      if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      const parts = specifier.split('/');
      found.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
    }
  }
  return found;
}

describe('production file set (Dockerfile stages without Docker) [slow]', () => {
  let workDir: string;
  let appDir: string;
  let command: string[];
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-prod-'));
    // Node would find packages in any node_modules above the app; none may exist there.
    for (let dir = path.dirname(workDir); ; dir = path.dirname(dir)) {
      expect(existsSync(path.join(dir, 'node_modules')), `${dir}/node_modules`).toBe(false);
      if (dir === path.dirname(dir)) break;
    }
    const started = Date.now();
    ({ appDir, command } = await buildFileSet(await readDockerfile(), workDir));
    console.log(`[production-build] file set built in ${Date.now() - started} ms`);
  }, 180_000);

  afterAll(async () => {
    await server?.stop('SIGTERM');
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  it('has only production dependencies, and the compiled code imports nothing else', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(appDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dev of ['typescript', 'tsx', 'vitest', 'supertest', 'eslint', 'aws-cdk-lib']) {
      expect(existsSync(path.join(appDir, 'node_modules', dev)), `${dev} is in the production tree`).toBe(false);
    }
    const imported = await importedPackages(path.join(appDir, 'dist'));
    expect(imported.size).toBeGreaterThan(5);
    // Declared, not merely present: a transitive copy can vanish with any lockfile update.
    const undeclared = [...imported].filter((name) => !(name in manifest.dependencies));
    expect(undeclared, 'imported by dist/ but not in "dependencies"').toEqual([]);
    for (const name of imported) expect(existsSync(path.join(appDir, 'node_modules', name)), name).toBe(true);
    expect(command).toEqual(['node', 'dist/main/server.js']);
  });

  it('starts with the image command in aws mode against the emulators and serves the API', async () => {
    const aws = testAwsEnv();
    server = await spawnServer({
      cwd: appDir,
      command: [process.execPath, ...command.slice(1)],
      env: {
        NODE_ENV: 'production',
        INTAKE_STORAGE: 'aws',
        INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
        INTAKE_NAME_PREFIX: `${uniqueName('pb')}-`,
        INTAKE_POLL_INTERVAL_MS: '100',
        AWS_REGION: aws.region,
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
        AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
        INTAKE_S3_FORCE_PATH_STYLE: 'true',
      },
    });
    const live = server;
    onTestFailed(() => console.log(`--- server output ---\n${live.logs().slice(-8000)}`));
    const call = async (method: string, urlPath: string, headers: Record<string, string> = {}, body?: string) => {
      const response = await fetch(`${live.baseUrl}${urlPath}`, { method, headers, body });
      const text = await response.text();
      return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
    };
    const admin = { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' };

    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('POST', '/v1/projects', admin, JSON.stringify({ id: 'prod', name: 'Prod' }))).status).toBe(201);
    const created = await call('POST', '/v1/projects/prod/keys', admin, JSON.stringify({ name: 'k' }));
    expect(created.status).toBe(201);
    const key = { 'x-api-key': created.json().key as string };
    const pushed = await call('POST', '/v1/projects/prod/records', { ...key, 'content-type': 'application/json' }, '{"n":12345678901234567890}');
    expect(pushed.status).toBe(200);
    const id = (pushed.json().records as Array<{ id: string }>)[0]!.id;
    const read = await call('GET', `/v1/projects/prod/records/${id}`, key);
    expect(read.status).toBe(200);
    expect(read.text).toContain('"data":{"n":12345678901234567890}');

    const uploaded = await call('PUT', '/v1/projects/prod/files/rows.csv', { ...key, 'content-type': 'text/csv' }, 'a,b\n1,2\n3,4\n');
    expect(uploaded.status).toBe(202);
    const jobPath = `/v1/projects/prod/jobs/${String(uploaded.json().jobId)}`;
    const until = Date.now() + 20_000;
    let job = (await call('GET', jobPath, key)).json();
    while (job.status !== 'succeeded' && Date.now() < until) {
      await sleep(100);
      job = (await call('GET', jobPath, key)).json();
    }
    expect(job).toMatchObject({ status: 'succeeded', recordsWritten: 2 });

    // A Parquet export job: its writer runs on a worker thread loaded from the compiled
    // file beside the export code, so the file set must hold it and it must load there.
    const exported = await call('POST', '/v1/projects/prod/exports', { ...key, 'content-type': 'application/json' }, '{"format":"parquet"}');
    expect(exported.status, exported.text).toBe(202);
    const exportPath = `/v1/projects/prod/exports/${String(exported.json().id)}`;
    const exportJob = await waitFor('the export job to end', async () => {
      const view = (await call('GET', exportPath, key)).json();
      return ['succeeded', 'failed'].includes(String(view.status)) ? view : undefined;
    });
    expect(exportJob).toMatchObject({ status: 'succeeded', parts: [{ name: 'part-00000.parquet', records: 3 }] });
    const part = await fetch(`${live.baseUrl}${(exportJob.parts as { url: string }[])[0]!.url}`, { headers: key });
    const bytes = Buffer.from(await part.arrayBuffer());
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).toBe('PAR1');

    expect((await call('GET', '/openapi.yaml')).text).toContain('openapi:');
    expect((await call('GET', '/docs/')).status).toBe(200);
    // The job's status is stored before the poller finishes with it (moving its object,
    // then counting it): the count follows within moments, not necessarily at once.
    let metrics = (await call('GET', '/metrics')).text;
    for (const counted = Date.now() + 5000; !metrics.includes('intake_jobs_total{outcome="succeeded"} 1') && Date.now() < counted; ) {
      await sleep(100);
      metrics = (await call('GET', '/metrics')).text;
    }
    expect(metrics).toContain('intake_jobs_total{outcome="succeeded"} 1');

    // The image's HEALTHCHECK probe, run from the file set as Docker would run it.
    const probe = await run(process.execPath, ['docker/healthcheck.mjs'], { cwd: appDir, env: { ...childEnv(), PORT: String(live.port) } });
    expect(probe.stderr).toBe('');

    const exit = await live.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(live.logs()).not.toContain(E2E_ADMIN_TOKEN);
  }, 60_000);
});
