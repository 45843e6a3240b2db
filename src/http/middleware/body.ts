import type { NextFunction, Request, Response } from 'express';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { decodeUtf8, jsonDepthExceeds } from '../../domain/json-text.js';
import { AppError, errors, isAppError } from '../../errors.js';

export function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Refuses any body whose media type is not one of `allowed` (415) and any charset other
 * than UTF-8, before a byte of it is read.
 */
export function requireMediaType(allowed: string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!allowed.includes(mediaType(req))) throw errors.unsupportedMediaType(allowed);
    const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.get('content-type') ?? '')?.[2];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) throw errors.unsupportedMediaType(allowed);
    next();
  };
}

/** The raw body as a Buffer, bounded by `limit` bytes (413 past it, checked while reading). */
export function rawBody(limit: number) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    req.body = await readBoundedBody(req, limit);
    next();
  };
}

function decoderFor(req: Request): Transform | undefined {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  switch (encoding) {
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw new AppError(415, 'unsupported_encoding', 'The body encoding or charset is not supported.');
  }
}

/**
 * Reads the body, decompressed, into one Buffer of at most `limit` bytes. Unlike
 * body-parser, which on any failure reads the rest of the body before answering (a 400 MB
 * push over the limit was read whole to be refused, and a trickled one never answered), it
 * refuses as soon as it knows: a Content-Length over the limit before a byte is read, a
 * body that grows past it at that byte. The server then closes the connection rather than
 * read the rest (see http-server.ts). Any decoder failure, whatever the encoding claimed
 * (gzip bytes sent as `br`...), is 400 invalid_body, never a 500.
 */
async function readBoundedBody(req: Request, limit: number): Promise<Buffer> {
  const declared = req.get('content-length');
  if (declared !== undefined && Number(declared) > limit) throw errors.payloadTooLarge(limit);
  const decoder = decoderFor(req);
  const source: Readable = decoder ? req.pipe(decoder) : req;
  const parts: Buffer[] = [];
  let length = 0;
  let rawLength = 0;
  const countRaw = (chunk: Buffer) => (rawLength += chunk.length);
  req.on('data', countRaw);
  let aborted = false;
  const onAborted = () => {
    aborted = true;
    source.destroy(new Error('aborted'));
  };
  req.once('aborted', onAborted);
  req.once('error', onAborted);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit || rawLength > limit) throw errors.payloadTooLarge(limit);
      parts.push(chunk);
    }
  } catch (error) {
    if (isAppError(error)) throw error;
    if (aborted) throw new AppError(400, 'request_aborted', 'The request was aborted by the client.');
    throw errors.invalidBody('The body could not be decompressed for its Content-Encoding.');
  } finally {
    req.off('data', countRaw);
    req.off('aborted', onAborted);
    req.off('error', onAborted);
    if (decoder) {
      req.unpipe(decoder);
      decoder.destroy();
    }
  }
  return Buffer.concat(parts, length);
}

/** Admin bodies are a few fields deep; deeper nesting is refused before parsing. */
const ADMIN_JSON_MAX_DEPTH = 16;

/**
 * A small JSON body for admin routes, parsed strictly: objects and arrays only, invalid
 * UTF-8 refused (never turned into U+FFFD), nesting bounded before the parser runs.
 * JSON.parse keeps `__proto__` as an own data key (it never sets a prototype), and the
 * routes' strict schemas refuse any key they do not know.
 */
export function jsonBody(limit = 64 * 1024, maxDepth = ADMIN_JSON_MAX_DEPTH) {
  return [requireMediaType(['application/json']), rawBody(limit), parseJsonBody(maxDepth)];
}

function parseJsonBody(maxDepth: number) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (raw.length === 0) {
      req.body = {};
      next();
      return;
    }
    const text = decodeUtf8(raw);
    if (jsonDepthExceeds(text, maxDepth)) {
      throw errors.invalidBody(`JSON nesting deeper than ${maxDepth} levels is not accepted.`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw errors.malformedJson(error instanceof Error ? error.message.slice(0, 200) : 'parse error');
    }
    if (typeof value !== 'object' || value === null) throw errors.malformedJson('the body must be an object or an array');
    req.body = value;
    next();
  };
}
