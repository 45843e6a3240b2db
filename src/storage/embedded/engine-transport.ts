import type { MessagePort } from 'node:worker_threads';

/**
 * A DynamoDB API request as the SDK (or EngineJsonClient) built it, sent to the engine's
 * thread. Bodies cross the thread boundary as UTF-8 bytes in a buffer that is transferred,
 * not copied: the sender writes its JSON as bytes and reads bytes back, so no side decodes
 * and re-encodes text on the way (a page of 1,000 records is about 1 MB).
 */
export interface EngineRequest {
  type: 'request';
  id: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
}

export interface EngineResponse {
  type: 'response';
  id: number;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
}

/** What the SDK hands a request handler (structurally @smithy/types' HttpRequest). */
interface SdkRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The SDK's abort signal: a DOM AbortSignal in practice; only `aborted` is promised. */
interface SdkAbortSignal {
  readonly aborted: boolean;
}

function onAbortOf(signal: SdkAbortSignal | undefined, listener: () => void): () => void {
  const target = signal as Partial<AbortSignal> | undefined;
  if (!target || typeof target.addEventListener !== 'function') return () => undefined;
  target.addEventListener('abort', listener, { once: true });
  return () => target.removeEventListener?.('abort', listener);
}

interface Pending {
  resolve: (response: EngineResponse) => void;
  reject: (error: Error) => void;
  /** performance.now() past which the request has timed out, and how long that was. */
  deadline: number;
  timeoutMs: number;
  /** Removes the abort listener, if the request has one. */
  stopListening?: () => void;
}

const REQUEST_TIMEOUT_MS = 60_000;
/** How often requests in flight are checked against their deadlines. */
const TIMEOUT_SWEEP_MS = 1000;

function transportError(message: string, name = 'EngineTransportError'): Error {
  const error = new Error(message);
  error.name = name;
  // The adapters' retry logic treats a reset connection as transient, like a socket error.
  (error as NodeJS.ErrnoException).code = 'ECONNRESET';
  return error;
}

const encoder = new TextEncoder();

/**
 * The request body as bytes the transport may hand over: a fresh buffer of exactly the
 * body's size, never the SDK's own (it keeps the request to send again on a retry, and a
 * view into a larger buffer would carry all of that buffer across).
 */
export function ownedBytes(body: unknown): Uint8Array<ArrayBuffer> {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return new Uint8Array(body);
  throw new Error('The embedded engine transport takes string or byte bodies only.');
}

/** A response's body as a Buffer over the same bytes (no copy). */
export function bodyBuffer(answer: EngineResponse): Buffer {
  return Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
}

function queryString(query: SdkRequest['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null) params.append(k, '');
    else for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * The SDK's request handler for the embedded engine: each signed request goes to the
 * engine's thread over a MessagePort and is answered by the same dynalite handler that
 * serves its loopback port, without a TCP connection or HTTP parsing at either end (they
 * cost the server's thread about as much as the rest of a small write's storage call).
 * Implements the SDK's HttpHandler contract: handle(), destroy(), abort signals.
 */
export class EngineRequestHandler {
  readonly metadata = { handlerProtocol: 'embedded-engine' };
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed: Error | undefined;

  /** Checks the requests in flight against their deadlines; runs only while there are some. */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: EngineResponse) => {
      if (message.type !== 'response') return;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      waiting.stopListening?.();
      waiting.resolve(message);
    });
  }

  /**
   * Sends one request to the engine's thread and resolves with its answer. `body` is
   * taken, not copied: its buffer is transferred to the engine's thread (and left empty
   * here), so it must be the caller's own, of exactly the body's size.
   *
   * A request in flight holds only its callbacks and deadline: no timer of its own (one
   * sweep per second checks every deadline) and no closure over the caller's text. A
   * heap profile of a 1M-row ingest that kept only what outlived young-generation
   * collections put a timer, its closures and the promise of every batch among the
   * largest sources of the old generation's garbage.
   */
  send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Uint8Array<ArrayBuffer>,
    options: { abortSignal?: SdkAbortSignal; requestTimeout?: number } = {},
  ): Promise<EngineResponse> {
    if (this.closed) return Promise.reject(this.closed);
    const signal = options.abortSignal;
    if (signal?.aborted) return Promise.reject(transportError('Request aborted', 'AbortError'));
    const id = this.nextId++;
    const timeoutMs = options.requestTimeout || REQUEST_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    return new Promise<EngineResponse>((resolve, reject) => {
      const waiting: Pending = { resolve, reject, deadline, timeoutMs };
      if (signal) {
        waiting.stopListening = onAbortOf(signal, () => {
          if (this.pending.get(id) !== waiting) return;
          this.pending.delete(id);
          reject(transportError('Request aborted', 'AbortError'));
        });
      }
      this.pending.set(id, waiting);
      // Referenced, as a timer per request was: a request in flight keeps the process alive.
      this.sweeper ??= setInterval(() => this.sweep(), TIMEOUT_SWEEP_MS);
      this.port.postMessage({ type: 'request', id, method, url, headers, body } satisfies EngineRequest, [body.buffer]);
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, waiting] of this.pending) {
      if (waiting.deadline > now) continue;
      this.pending.delete(id);
      waiting.stopListening?.();
      waiting.reject(transportError(`The embedded engine did not answer within ${waiting.timeoutMs} ms`, 'TimeoutError'));
    }
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** The SDK's entry point: its request, sent as `send` sends. */
  handle(request: SdkRequest, options: { abortSignal?: SdkAbortSignal; requestTimeout?: number } = {}) {
    let sent: Promise<EngineResponse>;
    try {
      sent = this.send(request.method, `${request.path}${queryString(request.query)}`, request.headers, ownedBytes(request.body), options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return sent.then((answer) => ({
      response: {
        statusCode: answer.status,
        reason: undefined,
        headers: answer.headers,
        // The SDK takes a byte body as the whole payload, without reading it as a stream.
        body: bodyBuffer(answer),
      },
    }));
  }

  /** Fails every request still waiting, and any later one: the engine is gone. */
  fail(error: Error): void {
    this.closed = transportError(error.message);
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.stopListening?.();
      waiting.reject(this.closed);
    }
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  updateHttpClientConfig(): void {
    // Nothing to configure: no sockets, no agent.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    // The port belongs to the engine; startEmbeddedDynamo's close() ends it.
  }
}
