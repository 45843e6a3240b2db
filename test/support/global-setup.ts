// Runs once per vitest run in the main process, for the project holding test/integration
// and test/e2e: starts DynamoDB Local and the S3 emulator, hands their endpoints to the
// test files through provide/inject, and stops them at teardown.
import type { TestProject } from 'vitest/node';
import type { TestAwsEnv } from './endpoints.js';
import {
  EMULATOR_CREDENTIALS,
  killLeftoverEmulators,
  startDynamoDbLocal,
  startS3Emulator,
  type RunningEmulator,
} from './emulators.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Same reason as test.env in vitest.config.ts: the readiness probes use the AWS SDK here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const leftovers = killLeftoverEmulators();
  if (leftovers > 0) console.warn(`[emulators] killed ${leftovers} emulator(s) left by an interrupted run`);

  const started = await Promise.allSettled([startDynamoDbLocal(), startS3Emulator()]);
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    const stoppingAt = Date.now();
    await Promise.all(running.map((emulator) => emulator.stop()));
    console.log(`[emulators] stopped in ${Date.now() - stoppingAt} ms`);
  };
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await stopAll();
    throw failure.reason;
  }
  const [dynamodb, s3] = running as [RunningEmulator, RunningEmulator];
  console.log(
    `[emulators] DynamoDB Local ${dynamodb.endpoint} ready in ${dynamodb.startupMs} ms; ` +
      `fauxqs S3 ${s3.endpoint} ready in ${s3.startupMs} ms`,
  );
  const awsEnv: TestAwsEnv = {
    region: 'us-east-1',
    dynamodbEndpoint: dynamodb.endpoint,
    s3Endpoint: s3.endpoint,
    credentials: { ...EMULATOR_CREDENTIALS },
  };
  project.provide('awsEmulators', awsEnv);
  return stopAll;
}
