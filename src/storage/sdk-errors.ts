import { errors, isAppError } from '../errors.js';

interface SdkErrorLike {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'SlowDown',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** True for failures that say "storage is not answering right now" rather than "bad request". */
export function isTransientStorageError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorLike;
  if (e.name !== undefined && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isTransientStorageError(cause);
}

export function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as SdkErrorLike).name : undefined;
}

/**
 * Translates an SDK failure at the adapter boundary: transient ones become 503
 * storage_unavailable (the SDK has already retried them with backoff); anything else
 * is a bug or a misconfiguration and surfaces as a 500 with the cause logged.
 */
export function toStorageError(error: unknown): Error {
  if (isAppError(error)) return error;
  if (isTransientStorageError(error)) return errors.storageUnavailable(error);
  return errors.internal(error);
}

export async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toStorageError(error);
  }
}
