import express, { type NextFunction, type Request, type Response } from 'express';
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

/** A small JSON body for admin routes, parsed strictly (objects and arrays only). */
export function jsonBody(limit = 64 * 1024) {
  return [requireMediaType(['application/json']), express.json({ limit, strict: true })];
}
