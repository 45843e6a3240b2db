import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** What the DynamoDB and S3 clients are built from (the standard AWS settings). */
export interface AwsClientOptions {
  region: string;
  endpoint?: string;
  /** Static credentials for emulators; the default credentials chain applies otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxSockets?: number;
  /** The SDK's own attempts per call (4 by default). */
  maxAttempts?: number;
}

/**
 * Bounded connect time so /readyz and requests fail fast when storage is unreachable,
 * and keep-alive so batch writes do not pay a handshake each.
 */
export function httpHandler(maxSockets: number): NodeHttpHandler {
  return new NodeHttpHandler({
    connectionTimeout: 3000,
    requestTimeout: 60_000,
    httpAgent: new Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
  });
}

/**
 * Reports the SDK's own retries (maxAttempts) to `onRetry`, once per retried attempt, as
 * `sdk_<service>`. The retry middleware records the attempts it made in
 * `$metadata.attempts` of the result or of the final error; this reads it from outside.
 */
export function reportSdkRetries(
  client: { middlewareStack: { add: (...args: never[]) => void } },
  service: 'dynamodb' | 's3',
  onRetry: (reason: string) => void,
): void {
  const count = (value: unknown) => {
    const attempts = (value as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
    for (let i = 1; i < attempts; i++) onRetry(`sdk_${service}`);
  };
  const middleware = (next: (args: unknown) => Promise<{ output: unknown }>) => async (args: unknown) => {
    try {
      const result = await next(args);
      count(result.output);
      return result;
    } catch (error) {
      count(error);
      throw error;
    }
  };
  // The middleware touches only `$metadata`, which every client's output and errors share.
  (client.middlewareStack.add as (m: typeof middleware, o: { step: string; name: string }) => void)(middleware, {
    step: 'initialize',
    name: 'intakeRetryCounter',
  });
}
