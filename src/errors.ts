/**
 * The one error model. Domain code throws AppError from the named factories below; the
 * error middleware turns it into `{"error": {code, message, requestId}}` with its status.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/**
 * Storage did not answer (an outage, throttling past the adapter's retries, a full disk):
 * the request or job may succeed if tried again later. Retry decisions test for this
 * type, never for a status number.
 */
export class StorageUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(503, 'storage_unavailable', 'Storage is unavailable; retry shortly.', undefined, {
      cause,
      retryAfterSeconds: 5,
    });
  }
}

export const isRetryableStorageError = (e: unknown): e is StorageUnavailableError =>
  e instanceof StorageUnavailableError;

export const errors = {
  validation: (message: string, details?: unknown) =>
    new AppError(400, 'validation_failed', message, details),
  invalidProjectId: (id: string) =>
    new AppError(
      400,
      'invalid_project_id',
      `Project id ${JSON.stringify(id.slice(0, 60))} is not a slug of 3-40 characters [a-z0-9-].`,
    ),
  malformedJson: (detail: string) =>
    new AppError(400, 'malformed_json', `The request body is not valid JSON: ${detail}`),
  duplicateKey: (detail: string) =>
    new AppError(400, 'duplicate_key', `A key is repeated with different values: ${detail}`),
  invalidUtf8: () => new AppError(400, 'invalid_utf8', 'The request body is not valid UTF-8.'),
  invalidBody: (message: string) => new AppError(400, 'invalid_body', message),
  unknownParameter: (name: string, accepted: readonly string[]) =>
    new AppError(
      400,
      'unknown_parameter',
      `Unknown query parameter ${JSON.stringify(String(name).slice(0, 100))}; ` +
        (accepted.length > 0 ? `this route accepts: ${accepted.join(', ')}.` : 'this route takes no query parameters.'),
    ),
  invalidCursor: () =>
    new AppError(400, 'invalid_cursor', 'The cursor is not one this service issued.'),
  invalidLimit: (min: number, max: number) =>
    new AppError(400, 'invalid_limit', `limit must be an integer from ${min} to ${max}.`),
  unauthenticated: (message = 'A valid API key or admin token is required.') =>
    new AppError(401, 'unauthenticated', message),
  adminRequired: () =>
    new AppError(401, 'unauthenticated', 'A valid admin token is required for this route.'),
  sessionExpired: () =>
    new AppError(401, 'session_expired', 'The console session has expired; sign in again.'),
  csrfFailed: () =>
    new AppError(403, 'csrf_failed', 'A request authenticated by a session or a zero-trust assertion must carry the X-CSRF-Token of that session.'),
  adminNotAllowed: () =>
    new AppError(403, 'admin_not_allowed', 'This identity is not on the admin allowlist.'),
  keyNotForProject: () =>
    new AppError(403, 'key_not_for_project', 'This API key belongs to another project.'),
  insufficientScope: (scope: string) =>
    new AppError(403, 'insufficient_scope', `This API key lacks the scope ${scope}.`),
  ipNotAllowed: () =>
    new AppError(403, 'ip_not_allowed', 'Requests from this address are not allowed for this key.'),
  projectNotFound: (id: string) =>
    new AppError(404, 'project_not_found', `Project ${id} does not exist.`),
  keyNotFound: (id: string) => new AppError(404, 'key_not_found', `API key ${id} does not exist.`),
  quarantineEntryNotFound: (id: string) =>
    new AppError(404, 'quarantine_entry_not_found', `Quarantine entry ${JSON.stringify(id.slice(0, 100))} does not exist.`),
  replayInProgress: () =>
    new AppError(409, 'quarantine_replay_in_progress', 'A replay of this project\'s quarantine is running; wait for its job to finish (or its lease to expire) and start again.'),
  recordNotFound: (id: string) =>
    new AppError(404, 'record_not_found', `Record ${JSON.stringify(id.slice(0, 100))} does not exist.`),
  jobNotFound: (id: string) =>
    new AppError(404, 'job_not_found', `Job ${JSON.stringify(id.slice(0, 100))} does not exist.`),
  fileNotFound: (id: string) =>
    new AppError(404, 'file_not_found', `File ${JSON.stringify(id.slice(0, 100))} does not exist in this project.`),
  fileExpired: (id: string, days: number) =>
    new AppError(
      410,
      'file_expired',
      `File ${JSON.stringify(id.slice(0, 100))} is no longer kept: ingested uploads are deleted ${days} days after processing.`,
    ),
  errorReportNotReady: (jobId: string, status: string) =>
    new AppError(404, 'error_report_not_ready', `Job ${jobId} is ${status}; its error report is written when it finishes.`),
  errorReportGone: (jobId: string) =>
    new AppError(404, 'error_report_not_found', `The error report of job ${jobId} is no longer in the project bucket.`),
  routeNotFound: (method: string, path: string) =>
    new AppError(404, 'route_not_found', `No route for ${method} ${path.slice(0, 200)}.`),
  recordTooLarge: (id: string, size: number, limit: number) =>
    new AppError(
      400,
      'record_too_large',
      `Record ${JSON.stringify(id.slice(0, 100))} takes ${size} bytes; the limit is ${limit}.`,
    ),
  deletionNotConfirmed: (id: string) =>
    new AppError(400, 'deletion_not_confirmed', `Deleting a project removes all its data: repeat its id as ?confirm=${id.slice(0, 60)} to confirm.`),
  projectDeleting: (id: string) =>
    new AppError(409, 'project_deleting', `Project ${id} is being deleted; its id can be used again once the deletion has finished.`),
  projectExists: (id: string) =>
    new AppError(409, 'project_exists', `Project ${id} already exists.`),
  modelLocked: () =>
    new AppError(
      409,
      'model_locked',
      'The customer key of a project that holds records cannot change: record ids derive from it. Merge policy and indexes can.',
    ),
  modelVersionConflict: (current: number) =>
    new AppError(409, 'model_version_conflict', `The record model changed meanwhile (now version ${current}); read it again and retry.`),
  modelHasNoKey: () =>
    new AppError(400, 'model_has_no_key', 'This project has no customer key: set one with PUT /v1/projects/{projectId}/model.'),
  eraseNeedsKey: () =>
    new AppError(409, 'project_not_keyed', 'Erasing a customer needs a customer key: this project has none, so records are deleted by id.'),
  invalidKeyQuery: (fields: readonly string[], problem: string) =>
    new AppError(400, 'invalid_key_query', `${problem} A lookup takes exactly the key fields as parameters: ${fields.join(', ')}.`),
  fieldNotIndexed: (field: string, indexed: readonly string[]) =>
    new AppError(
      400,
      'field_not_indexed',
      `${JSON.stringify(String(field).slice(0, 200))} is not indexed; indexed fields: ${indexed.length > 0 ? indexed.join(', ') : '(none)'}.`,
    ),
  indexesUnavailable: (table: string) =>
    new AppError(
      409,
      'indexes_unavailable',
      `The records table ${String(table).slice(0, 120)} was created before indexes existed; it needs its index slots added once (see the README) before indexes can be declared.`,
    ),
  idempotencyKeyReused: () =>
    new AppError(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request body.',
    ),
  payloadTooLarge: (limit: number) =>
    new AppError(413, 'payload_too_large', `The body exceeds the limit of ${limit} bytes.`),
  tooManyRecords: (limit: number) =>
    new AppError(413, 'too_many_records', `A request may carry at most ${limit} records.`),
  unsupportedMediaType: (allowed: string[]) =>
    new AppError(415, 'unsupported_media_type', `Content-Type must be one of: ${allowed.join(', ')}.`),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'rate_limited', 'Too many requests; slow down.', undefined, {
      retryAfterSeconds,
    }),
  storageUnavailable: (cause?: unknown) => new StorageUnavailableError(cause),
  shuttingDown: () =>
    new AppError(503, 'shutting_down', 'The service is shutting down.', undefined, {
      retryAfterSeconds: 1,
    }),
  internal: (cause?: unknown) =>
    new AppError(500, 'internal_error', 'An unexpected error occurred.', undefined, { cause }),
} as const;
