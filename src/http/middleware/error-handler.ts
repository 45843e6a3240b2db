import type { NextFunction, Request, Response } from 'express';
import { AppError, errors, isAppError } from '../../errors.js';
import { redact, type Logger } from '../../observability/logger.js';
import { sendError } from '../error-envelope.js';

/** body-parser and multer report their failures with `type`/`code`; map them to the error model. */
function fromFrameworkError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // The router fails to decode a path parameter such as `%E0%A4%A` (or an encoded lone surrogate).
  if (error instanceof URIError) {
    return new AppError(400, 'invalid_path', 'The request path is not valid percent-encoded UTF-8.');
  }
  const e = error as { type?: string; code?: string; limit?: number; status?: number };
  switch (e.type) {
    case 'entity.too.large':
      return errors.payloadTooLarge(e.limit ?? 0);
    case 'entity.parse.failed':
      return errors.malformedJson('parse error');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(415, 'unsupported_encoding', 'The body encoding or charset is not supported.');
    case 'request.aborted':
      return new AppError(400, 'request_aborted', 'The request was aborted by the client.');
    case 'request.size.invalid':
      return new AppError(400, 'invalid_content_length', 'The body length does not match Content-Length.');
    default:
      // A body that does not decompress for its Content-Encoding: body-parser passes zlib's
      // error on (Z_DATA_ERROR, Z_BUF_ERROR...) with no type of its own.
      if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
        return errors.invalidBody('The body could not be decompressed for its Content-Encoding.');
      }
      return undefined;
  }
}

export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  return fromFrameworkError(error) ?? errors.internal(error);
}

/** The one error middleware, registered last: `{"error": {code, message, requestId}}`, never a stack. */
export function errorHandler(logger: Logger, secrets: readonly string[] = []) {
  return (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const appError = toAppError(error);
    const requestId = res.locals.requestId;
    if (appError.status >= 500) {
      const cause = appError.cause ?? error;
      logger.error('request failed', {
        event: 'request_error',
        requestId,
        code: appError.code,
        path: req.path.slice(0, 300),
        error: cause instanceof Error ? { name: cause.name, message: cause.message, stack: cause.stack } : String(cause),
      });
    }
    if (res.headersSent) {
      // Too late for an error body: end the response so the client sees it failed.
      next(error);
      return;
    }
    // Messages may quote the request (a project id from the path): a secret sent there is masked.
    sendError(res, appError, String(redact(appError.message, secrets)));
  };
}
