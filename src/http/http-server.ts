import http, { STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { errorEnvelope } from './error-envelope.js';

/** Load balancers (an ALB idles connections out at 60 s) must close idle keep-alive sockets before the service does. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Answers for requests Node refuses before Express sees them, in the service's error model. */
function clientErrorAnswer(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'The request headers are too large.'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time.'];
    default:
      return [400, 'bad_request', 'The request is not valid HTTP.'];
  }
}

/** How long a socket answered before its body was read may still take to read the answer. */
export const UNREAD_BODY_CLOSE_GRACE_MS = 1000;

function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * After an answer sent before the request's body was read (401, 403, 413, 415, 429...), the
 * connection is closed rather than kept for the next request: keeping it would mean reading
 * and discarding the rest of the body (Node does so to reuse the socket), which lets a
 * client announcing a gigabyte and sending a byte every few seconds hold a socket for as
 * long as it likes, and makes an over-limit push cost its whole size in reading. Reading
 * stops (the request is paused, so the socket's buffers fill and TCP holds the sender),
 * the answer is followed by a FIN, and the socket is destroyed after a grace period that
 * lets the client read the answer first: destroying it at once would send a reset that can
 * discard the answer on its way.
 */
function closeIfBodyUnread(req: IncomingMessage): void {
  if (req.complete || !announcesBody(req)) return;
  const socket = req.socket;
  if (socket.destroyed) return;
  req.removeAllListeners('data');
  req.pause();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), UNREAD_BODY_CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * The HTTP server for the app, with the limits that protect it from slow or oversized
 * requests before Express runs:
 * - `headersTimeout`: the request line and headers must arrive in full within it, so a
 *   slowloris client trickling header bytes is answered 408 and cut off;
 * - `requestTimeout`: the whole request (0 = unlimited, since uploads of gigabytes take
 *   long; slow bodies are cut off by the slow-body guard instead);
 * - an idle timeout per socket: no byte either way for that long closes it;
 * - `maxHeaderSize`: larger headers get 431;
 * - a request answered before its body was read loses its connection (closeIfBodyUnread).
 */
export function createHttpServer(app: RequestListener, limits: Config['http'], logger?: Logger): http.Server {
  const requestTimeout = limits.requestTimeoutMs;
  // Node refuses a headers timeout longer than a (non-zero) request timeout.
  const headersTimeout = requestTimeout > 0 ? Math.min(limits.headersTimeoutMs, requestTimeout) : limits.headersTimeoutMs;
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node checks the two timeouts above on this interval (30 s by default), which would
      // let a slow client live well past them.
      connectionsCheckingInterval: Math.max(250, Math.min(5000, Math.floor(headersTimeout / 4))),
    },
    app,
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.setTimeout(limits.socketIdleTimeoutMs);

  const responding = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    responding.set(req.socket, res);
    res.once('finish', () => closeIfBodyUnread(req));
    res.once('close', () => {
      if (responding.get(req.socket) === res) responding.delete(req.socket);
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = responding.get(socket);
    // Like Node's own handler: answer only when no response has started on this socket.
    if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      const [status, code, message] = clientErrorAnswer(error.code);
      const body = JSON.stringify(errorEnvelope(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'Connection: close\r\n' +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'Cache-Control: no-store\r\n' +
          'X-Content-Type-Options: nosniff\r\n' +
          `\r\n${body}`,
      );
      logger?.warn('request refused before routing', {
        event: 'client_error',
        status,
        code,
        reason: error.code,
        ip: (socket as { remoteAddress?: string }).remoteAddress,
      });
    }
    socket.destroy();
  });
  return server;
}
