import type {
  BatchWriteItemCommandInput,
  BatchWriteItemCommandOutput,
  GetItemCommandInput,
  GetItemCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { embeddedAuthHeaders } from '../aws/clients.js';
import { bodyBuffer, type EngineRequestHandler } from './engine-transport.js';

/** The operations the record store sends this way, with the SDK's shapes for them. */
interface Operations {
  BatchWriteItem: [BatchWriteItemCommandInput, Omit<BatchWriteItemCommandOutput, '$metadata'>];
  GetItem: [GetItemCommandInput, Omit<GetItemCommandOutput, '$metadata'>];
  Scan: [ScanCommandInput, Omit<ScanCommandOutput, '$metadata'>];
}

/** A refusal from the engine, shaped as the SDK shapes service errors (what aws-errors reads). */
export class EngineServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number };

  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status };
  }
}

function engineError(status: number, text: string): EngineServiceError {
  let type = '';
  let message = `The embedded engine answered ${status}.`;
  try {
    const body = JSON.parse(text) as { __type?: unknown; message?: unknown; Message?: unknown };
    if (typeof body.__type === 'string') type = body.__type;
    const said = body.message ?? body.Message;
    if (typeof said === 'string') message = said;
  } catch {
    // Not JSON: the status says enough.
  }
  // `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` -> `ResourceNotFoundException`.
  const name = type.slice(type.lastIndexOf('#') + 1) || (status >= 500 ? 'InternalServerError' : 'ValidationException');
  return new EngineServiceError(name, message, status);
}

/**
 * DynamoDB's JSON protocol spoken straight over the embedded engine's transport, for the
 * record store's hot calls (pushes, ingest batches, reads by id and pages). In embedded
 * mode the SDK's per-call work (middleware chain, schema-driven serialisation of every
 * attribute value, response parsing) cost more of the server's thread than the rest of a
 * one-record push: paired runs of 1-record pushes gave 1.19-1.83x the requests/s without
 * it (median 1.37x, at 0.77x the CPU per request). The wire form of the record store's items (string attributes only) is exactly the
 * SDK's input and output shape, so JSON.stringify and JSON.parse are the whole codec.
 *
 * What the SDK would add on top: its own retries (maxAttempts), which the callers do not
 * need here. BatchWriteItem is retried by the record store's own loop, and the engine's
 * transient failures are the engine stopping, which no retry outlives. Errors come back as
 * EngineServiceError with the SDK's `name`, `$fault` and `$metadata.httpStatusCode`, so the
 * adapters map them exactly as they map the SDK's. AWS mode always goes through the SDK.
 */
export class EngineJsonClient {
  /** Each operation's request headers, remade once a minute (they carry the date). */
  private readonly headers = new Map<keyof Operations, Record<string, string>>();
  private headersMadeAt = 0;

  constructor(private readonly handler: EngineRequestHandler) {}

  async call<K extends keyof Operations>(operation: K, input: Operations[K][0]): Promise<Operations[K][1]> {
    const answer = await this.handler.send('POST', '/', this.headersFor(operation), requestBytes(input));
    const text = bodyBuffer(answer).toString('utf8');
    if (answer.status !== 200) throw engineError(answer.status, text);
    return JSON.parse(text) as Operations[K][1];
  }

  private headersFor(operation: keyof Operations): Record<string, string> {
    const now = Date.now();
    if (now - this.headersMadeAt > 60_000) {
      this.headers.clear();
      this.headersMadeAt = now;
    }
    let headers = this.headers.get(operation);
    if (!headers) {
      headers = {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        ...embeddedAuthHeaders(),
      };
      this.headers.set(operation, headers);
    }
    return headers;
  }
}

const encoder = new TextEncoder();

/** The input as JSON bytes; the text is garbage once this returns (see EngineRequestHandler.send). */
function requestBytes(input: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(input));
}
