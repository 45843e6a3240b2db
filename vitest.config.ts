import { defineConfig } from 'vitest/config';

// Two projects so that `vitest run test/unit` never waits for the emulators: vitest runs
// a project's globalSetup only when that project has test files in the run.
export default defineConfig({
  test: {
    // Child processes rather than worker threads: tests spawn servers and hold sockets,
    // and a process is the unit that can be killed cleanly.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    env: {
      // The SDK's notice that releases after January 2027 need Node 22 would otherwise
      // print once per test file; the versions are pinned in package-lock.json.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'aws',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        // The console in Debian's Chromium against a spawned server in embedded mode: no
        // emulators needed, so this project has no global setup.
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 180_000 },
      },
    ],
  },
});
