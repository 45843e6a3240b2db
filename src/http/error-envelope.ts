import type { Response } from 'express';
import type { AppError } from '../errors.js';

export interface ErrorEnvelope {
  error: { code: string; message: string; requestId?: string; details?: unknown };
}

/**
 * The one shape every error answer takes: `{"error": {code, message, requestId}}`, with
 * `details` only when there are some. Without a request id (a request Node refused before
 * Express saw it) the field is left out rather than sent empty.
 */
export function errorEnvelope(code: string, message: string, requestId?: string, details?: unknown): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = { code, message };
  if (requestId !== undefined) error.requestId = requestId;
  if (details !== undefined) error.details = details;
  return { error };
}

/**
 * Answers with an AppError: its status, `Retry-After` when it has one, and the envelope.
 * `message` replaces the error's own when the caller had to mask part of it.
 */
export function sendError(res: Response, error: AppError, message: string = error.message): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  res.status(error.status).json(errorEnvelope(error.code, message, res.locals.requestId, error.details));
}
