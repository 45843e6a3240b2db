// The previous release as a second server under test (BENCH_BASELINE_REF): a git worktree
// of that commit with its own node_modules, so "N times faster than before" is measured
// on this machine in this run instead of being read from an old results file whose
// machine drifted since.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './children.js';

const run = promisify(execFile);

export interface BaselineCheckout {
  /** The commit, abbreviated, as printed in the figures. */
  commit: string;
  /** The worktree: the baseline server runs from here, with its own dependencies. */
  dir: string;
}

async function git(args: string[], cwd = REPO_ROOT): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/**
 * Makes (or reuses) `<dataDir>/baseline-<commit>`: a detached worktree of `ref` whose
 * dependencies were installed by `npm ci` from its own lock file. The install takes
 * minutes, so a marker written after it succeeds lets later runs skip it; an interrupted
 * install leaves no marker and is redone.
 */
export async function baselineCheckout(ref: string, dataDir: string, note: (text: string) => void): Promise<BaselineCheckout> {
  const full = await git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const commit = full.slice(0, 7);
  const dir = path.join(dataDir, `baseline-${commit}`);
  if (!existsSync(path.join(dir, '.git'))) {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dataDir, { recursive: true });
    // --force: a worktree deleted with bench/.data is still registered; this takes its place.
    await git(['worktree', 'add', '--detach', '--force', dir, full]);
    note(`baseline: worktree of ${commit} created at ${path.relative(REPO_ROOT, dir)}`);
  } else if ((await git(['rev-parse', 'HEAD'], dir)) !== full) {
    throw new Error(`${dir} is a worktree of another commit than ${ref}; remove it with \`git worktree remove --force ${dir}\``);
  }
  const marker = path.join(dir, 'node_modules', '.bench-installed');
  if (!existsSync(marker)) {
    const started = Date.now();
    try {
      // Its own lock file, not this tree's: an earlier release depends on packages this one dropped.
      await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: 'true' } });
    } catch (error) {
      const output = error as { stdout?: string; stderr?: string };
      throw new Error(`npm ci in ${dir} failed:\n${(output.stderr ?? '').slice(-4000)}${(output.stdout ?? '').slice(-2000)}`);
    }
    await fs.writeFile(marker, `${full}\n`);
    note(`baseline: npm ci in the worktree of ${commit} took ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return { commit, dir };
}
