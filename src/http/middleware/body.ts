import express, { type NextFunction, type Request, type Response } from 'express';
import { decodeUtf8, jsonDepthExceeds } from '../../domain/json-text.js';
import { errors } from '../../errors.js';

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
  return express.raw({ type: () => true, limit, inflate: true });
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
