import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
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
  /** Replaces the HTTP handler of the DynamoDB client (the embedded engine's in-thread transport). */
  dynamodbRequestHandler?: DynamoDBClientConfig['requestHandler'];
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

/**
 * For the embedded engine's in-thread transport: requests never leave the process, and
 * the engine only checks that an AWS4 Authorization header and a date are present, so
 * the request is marked as signed instead of being signed (SigV4 hashes the payload and
 * runs four HMACs per call: about 5% of the server's thread under small pushes).
 */
const inProcessSigner = {
  async sign<T extends { headers: Record<string, string> }>(request: T): Promise<T> {
    Object.assign(request.headers, embeddedAuthHeaders());
    return request;
  },
};

/** The headers that mark a request to the embedded engine as signed (see inProcessSigner). */
export function embeddedAuthHeaders(): { 'x-amz-date': string; authorization: string } {
  const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  return {
    'x-amz-date': date,
    authorization: `AWS4-HMAC-SHA256 Credential=embedded/${date.slice(0, 8)}/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=embedded`,
  };
}

/** The DynamoDB client options of embedded mode: the engine's in-thread transport, no real credentials. */
export function embeddedClientOptions(engine: {
  endpoint: string;
  requestHandler: NonNullable<AwsClientOptions['dynamodbRequestHandler']>;
}): AwsClientOptions {
  return {
    region: 'local',
    dynamodbEndpoint: engine.endpoint,
    dynamodbRequestHandler: engine.requestHandler,
    credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
  };
}

export function createDynamoClient(options: AwsClientOptions): DynamoDBClient {
  return new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamodbEndpoint,
    credentials: options.credentials,
    maxAttempts: 4,
    retryMode: 'standard',
    requestHandler: options.dynamodbRequestHandler ?? httpHandler(options.maxSockets ?? 64),
    // Each call reuses the handler chain built for its command class instead of rebuilding
    // it from the middleware stack: no middleware is added per call (reportSdkRetries adds
    // its one before the first), and the rebuild was ~2% of the server's thread under
    // small pushes.
    cacheMiddleware: true,
    ...(options.dynamodbRequestHandler ? { signer: inProcessSigner } : {}),
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

/**
 * Reports the SDK's own retries (maxAttempts above) to `onRetry`, once per retried
 * attempt, as `sdk_<service>`. The retry middleware records the attempts it made in
 * `$metadata.attempts` of the result or of the final error; this reads it from outside.
 */
export function reportSdkRetries(
  client: DynamoDBClient | S3Client,
  service: 'dynamodb' | 's3',
  onRetry: (reason: string) => void,
): void {
  const count = (value: unknown) => {
    const attempts = (value as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
    for (let i = 1; i < attempts; i++) onRetry(`sdk_${service}`);
  };
  // The middleware touches only `$metadata`, which every client's output and errors share.
  (client as DynamoDBClient).middlewareStack.add(
    (next) => async (args) => {
      try {
        const result = await next(args);
        count(result.output);
        return result;
      } catch (error) {
        count(error);
        throw error;
      }
    },
    { step: 'initialize', name: 'intakeRetryCounter' },
  );
}
