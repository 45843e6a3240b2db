import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface AwsClientOptions {
  region: string;
  dynamodbEndpoint?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  /** Static credentials for emulators; the default credentials chain applies otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxSockets?: number;
}

function httpHandler(maxSockets: number): NodeHttpHandler {
  // Bounded connect time so /readyz and requests fail fast when storage is unreachable,
  // and keep-alive so batch writes do not pay a handshake each.
  return new NodeHttpHandler({
    connectionTimeout: 3000,
    requestTimeout: 60_000,
    httpAgent: new Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
  });
}

export function createDynamoClient(options: AwsClientOptions): DynamoDBClient {
  return new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamodbEndpoint,
    credentials: options.credentials,
    maxAttempts: 4,
    retryMode: 'standard',
    requestHandler: httpHandler(options.maxSockets ?? 64),
  });
}

export function createS3Client(options: AwsClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    endpoint: options.s3Endpoint,
    forcePathStyle: options.s3ForcePathStyle ?? false,
    credentials: options.credentials,
    maxAttempts: 4,
    retryMode: 'standard',
    requestHandler: httpHandler(options.maxSockets ?? 64),
  });
}
