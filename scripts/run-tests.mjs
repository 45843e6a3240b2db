// `npm test`: typecheck, lint, then every vitest project, and finally one line that CI
// reads: `N passed, N failed[, N skipped]`. Vitest's own summary is not in a form CI
// recognises, so the line is computed from vitest's JSON report.
//
// Usage: npm test [-- <vitest args>]   e.g. npm test -- test/unit
// All three steps always run, so one run shows every problem; the exit code is 0 only
// if all of them pass. Arguments after `--` go to vitest only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reportFile = path.join(root, '.test-results', 'vitest.json');
const vitestArgs = process.argv.slice(2);

// Entry scripts run with this node, not the .bin shims: no shell, same on every platform.
const tools = {
  tsc: path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  eslint: path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'),
  vitest: path.join(root, 'node_modules', 'vitest', 'vitest.mjs'),
};

let currentChild;
let interruptedBy;

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    interruptedBy = signal;
    // A terminal's Ctrl-C reaches the child too; a signal sent to this process alone
    // (CI cancelling the job) must be passed on so vitest can stop its emulators.
    currentChild?.kill(signal);
  });
}

function runStep(label, script, args) {
  console.log(`\n> ${label}`);
  return new Promise((resolve) => {
    // stdin is closed: nothing may wait for input, whatever the environment (CI=true).
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    currentChild = child;
    child.on('error', (error) => {
      console.error(`${label}: could not start: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      currentChild = undefined;
      resolve(code ?? (signal ? 128 + os.constants.signals[signal] : 1));
    });
  });
}

function readReport() {
  try {
    return JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  } catch {
    return undefined;
  }
}

// Failed = failed tests + test files that failed without a failed test (an import error,
// a failing beforeAll, an error thrown at collection). If vitest failed and neither shows
// it (an unhandled error, a global setup that could not start the emulators, no report at
// all), that counts as one failure so the line never reads as a success.
function summarise(report, vitestExitCode) {
  const files = Array.isArray(report?.testResults) ? report.testResults : [];
  const passed = report?.numPassedTests ?? 0;
  const failedTests = report?.numFailedTests ?? 0;
  const erroredFiles = files.filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
  ).length;
  let failed = failedTests + erroredFiles;
  if (vitestExitCode !== 0 && failed === 0) failed = 1;
  const skipped = (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0);
  return { passed, failed, skipped };
}

const results = [];
const steps = [
  ['typecheck', tools.tsc, ['-p', 'tsconfig.json', '--noEmit']],
  // The console is browser code (DOM types, JSX) with its own compiler settings.
  ['typecheck console', tools.tsc, ['-p', 'console/tsconfig.json']],
  ['lint', tools.eslint, ['.']],
  // Built once before the tests: the browser tests serve it, and `npm start` in the e2e tests
  // would otherwise build it inside their start-up timeout.
  ['console build', path.join(root, 'scripts', 'build-console.mjs'), ['--if-changed']],
  [
    'tests',
    tools.vitest,
    ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...vitestArgs],
  ],
];

fs.rmSync(reportFile, { force: true });
for (const [label, script, args] of steps) {
  if (interruptedBy) break;
  results.push({ label, code: await runStep(label, script, args) });
}

console.log('');
for (const { label, code } of results) console.log(`${label}: ${code === 0 ? 'ok' : `failed (exit ${code})`}`);

const testStep = results.find((result) => result.label === 'tests');
if (testStep) {
  const { passed, failed, skipped } = summarise(readReport(), testStep.code);
  console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
}

if (interruptedBy) {
  console.log(`interrupted by ${interruptedBy}`);
  process.exitCode = 128 + os.constants.signals[interruptedBy];
} else {
  process.exitCode = results.every((result) => result.code === 0) ? 0 : 1;
}
