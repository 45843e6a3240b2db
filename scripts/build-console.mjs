// Builds the web console (console/ → dist/console) with Vite.
//
//   node scripts/build-console.mjs              always builds
//   node scripts/build-console.mjs --if-changed builds only when dist/console is missing or
//                                               its sources changed (npm start's prestart)
//
// "Changed" is a SHA-256 over the console's sources, the Vite config, the lockfile and this script, kept
// beside the build in dist/console/.source-hash: a start with nothing changed costs a hash of
// a few files. The build goes to a fresh directory that replaces dist/console in one rename,
// so a server already running, or two starts at once, never see a half-written console.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'console');
const hashFile = path.join(outDir, '.source-hash');

function listFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)]))
    .sort();
}

function sourceHash() {
  const hash = crypto.createHash('sha256');
  const files = [...listFiles(path.join(root, 'console')), path.join(root, 'vite.config.ts'), path.join(root, 'package-lock.json'), fileURLToPath(import.meta.url)];
  for (const file of files) {
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

function builtHash() {
  try {
    if (!fs.existsSync(path.join(outDir, 'index.html'))) return undefined;
    return fs.readFileSync(hashFile, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const hash = sourceHash();
if (process.argv.includes('--if-changed') && builtHash() === hash) process.exit(0);

// Always a production bundle: run from a test (NODE_ENV=test) or a shell with
// NODE_ENV=development, Vite would otherwise bundle React's development build, twice the size.
process.env.NODE_ENV = 'production';
const { build } = await import('vite');
const staging = path.join(root, 'dist', `.console-${process.pid}-${Date.now()}`);
process.env.CONSOLE_OUT_DIR = staging;
try {
  await build({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' });
  fs.writeFileSync(path.join(staging, '.source-hash'), `${hash}\n`);
  fs.rmSync(outDir, { recursive: true, force: true });
  try {
    fs.renameSync(staging, outDir);
  } catch (error) {
    // Another build finished first with the same sources: keep its output.
    if (builtHash() !== hash) throw error;
  }
  console.log(`console built into ${path.relative(root, outDir)}`);
} finally {
  fs.rmSync(staging, { recursive: true, force: true });
}
