// The aws-mode figures run against AWS's DynamoDB Local and the in-memory S3 emulator,
// started the same way the integration tests start them.
import {
  EMULATOR_CREDENTIALS,
  EMULATOR_REGION,
  killLeftoverEmulators,
  startDynamoDbLocal,
  startS3Emulator,
} from '../../test/support/emulators.js';
import type { AwsTarget } from '../figures/ingest.js';

export async function withEmulators(work: (aws: AwsTarget) => Promise<void>): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  killLeftoverEmulators();
  const started = await Promise.allSettled([startDynamoDbLocal(), startS3Emulator()]);
  const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = started.find((r) => r.status === 'rejected');
  if (failure) {
    await Promise.all(running.map((e) => e.stop()));
    throw failure.reason;
  }
  const [dynamodb, s3] = running as [(typeof running)[number], (typeof running)[number]];
  try {
    await work({
      dynamodbEndpoint: dynamodb.endpoint,
      s3Endpoint: s3.endpoint,
      region: EMULATOR_REGION,
      credentials: { ...EMULATOR_CREDENTIALS },
    });
  } finally {
    await Promise.all([dynamodb.stop(), s3.stop()]);
  }
}
