// What a test file needs to reach the emulators started by test/support/global-setup.ts.
//
// S3 client settings that work against fauxqs 1.9.2 (the service's S3 adapter needs the
// same endpoint settings when it is pointed at the emulator):
//   - endpoint: testAwsEnv().s3Endpoint, an http://127.0.0.1:<port> URL.
//   - forcePathStyle: true. With a host-name endpoint (http://localhost:<port>, a compose
//     service name) the SDK's default virtual-hosted style asks for <bucket>.localhost,
//     which fails with ENOTFOUND; path style (http://host:port/bucket/key) always works.
//     (With an IP endpoint the SDK falls back to path style by itself, but set it anyway
//     so the service's config does not depend on how the endpoint is spelled.)
//   - region 'us-east-1' and any static credentials: fauxqs checks no signatures.
//   - checksums: leave the SDK defaults (requestChecksumCalculation and
//     responseChecksumValidation 'WHEN_SUPPORTED'). fauxqs decodes the aws-chunked
//     bodies the SDK sends for streams and ignores the checksum trailers; it returns no
//     checksum headers, so GetObject has nothing to validate. It never verifies an
//     uploaded checksum either, so checksum failures cannot be tested against it.
//   - request bodies are capped at 11 MiB (fastify bodyLimit): one PutObject or one
//     multipart part above that gets 413. Use @aws-sdk/lib-storage Upload with a
//     partSize of at most 11 MiB (its 5 MiB default is fine).
//   - its bucket listing, multipart, ranged GET, Copy, Head and Delete behave like S3;
//     nothing persists beyond the test run.
// DynamoDB Local needs only endpoint, region and credentials, but its access key id must
// be letters and digits only: 'intake-test' is refused with UnrecognizedClientException.
// It runs with -sharedDb, so every key and region sees the same tables.
import { inject } from 'vitest';

export interface TestAwsEnv {
  region: 'us-east-1';
  dynamodbEndpoint: string;
  s3Endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    awsEmulators: TestAwsEnv;
  }
}

/** The options, beyond endpoint/region/credentials, that an S3Client needs for fauxqs. */
export const S3_EMULATOR_CLIENT_OPTIONS = Object.freeze({ forcePathStyle: true });

/**
 * Endpoints and credentials of the emulators for this run. Only test files under
 * test/integration and test/e2e get them (the unit project starts no emulators).
 */
export function testAwsEnv(): TestAwsEnv {
  const provided = inject('awsEmulators') as TestAwsEnv | undefined;
  if (provided === undefined) {
    throw new Error(
      'AWS emulators are not running: testAwsEnv() works only in test/integration and test/e2e files run by vitest',
    );
  }
  // A copy, so a test that changes its object cannot affect another.
  return { ...provided, credentials: { ...provided.credentials } };
}

const MAX_NAME_LENGTH = 12;
const MAX_PREFIX_LENGTH = 5;

/**
 * A fresh name such as `rec-k3x9q2` for a project id or a table/bucket name prefix.
 * At most 12 characters of [a-z0-9-], starting with a letter and ending with a
 * letter or digit, so it is valid as a DynamoDB table name and an S3 bucket name.
 * The random tail keeps files that run in parallel from sharing anything.
 */
export function uniqueName(prefix: string): string {
  const cleaned = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_PREFIX_LENGTH)
    .replace(/-+$/, '');
  const head = cleaned === '' ? 't' : cleaned;
  return `${head}-${randomTail(MAX_NAME_LENGTH - head.length - 1)}`;
}

function randomTail(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  // 256 is not a multiple of 36; the slight bias does not matter for test names.
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join('');
}
