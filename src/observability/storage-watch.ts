import { isAppError } from '../errors.js';
import type { Storage } from '../storage/ports.js';
import type { StorageFailure } from './alerts.js';

/**
 * Classifies an error thrown by a storage port. Only failures on the storage side count:
 * AppErrors of status 500 and above (storage_unavailable after the SDK's retries, or an
 * unexpected SDK error such as AccessDenied). A caller's abort or a 4xx never does.
 */
export function storageFailureOf(error: unknown, operation: string): StorageFailure | undefined {
  if (!isAppError(error) || error.status < 500) return undefined;
  const cause = error.cause as { name?: unknown; message?: unknown } | undefined;
  const causeName = typeof cause?.name === 'string' ? cause.name : undefined;
  if (causeName === 'AbortError') return undefined;
  const message = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : error.message;
  return {
    errorClass: error.code === 'storage_unavailable' || causeName === undefined ? error.code : `${error.code}:${causeName}`,
    operation,
    message: message.slice(0, 300),
  };
}

/**
 * The same storage, with every port call watched: a failing call still fails for its
 * caller, and `onFailure` hears of it. Watching the ports rather than the HTTP error
 * handler or the poller sees every path to storage (requests, jobs, /readyz) in one place.
 */
export function watchStorageFailures(storage: Storage, onFailure: (failure: StorageFailure) => void): Storage {
  return {
    ...storage,
    objects: watchPort(storage.objects, 'objects', onFailure),
    records: watchPort(storage.records, 'records', onFailure),
    control: watchPort(storage.control, 'control', onFailure),
  };
}

function watchPort<T extends object>(port: T, portName: string, onFailure: (failure: StorageFailure) => void): T {
  const report = (method: string, error: unknown) => {
    const failure = storageFailureOf(error, `${portName}.${method}`);
    if (!failure) return;
    try {
      onFailure(failure);
    } catch {
      // Observing must never change what the caller sees.
    }
  };
  return new Proxy(port, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (error) {
          report(property, error);
          throw error;
        }
        if (isPromiseLike(result)) {
          return Promise.resolve(result).catch((error: unknown) => {
            report(property, error);
            throw error;
          });
        }
        if (isAsyncIterable(result)) return watchIteration(result, (error) => report(property, error));
        return result;
      };
    },
  });
}

async function* watchIteration<T>(source: AsyncIterable<T>, onError: (error: unknown) => void): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    onError(error);
    throw error;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}
