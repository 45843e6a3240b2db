import { S3Client } from '@aws-sdk/client-s3';
import { httpHandler, type AwsClientOptions } from '../sdk-http.js';

export function createS3Client(options: AwsClientOptions & { forcePathStyle?: boolean }): S3Client {
  return new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts ?? 4,
    retryMode: 'standard',
    requestHandler: httpHandler(options.maxSockets ?? 64),
  });
}
