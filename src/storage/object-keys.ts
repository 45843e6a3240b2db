import { errors } from '../errors.js';

/**
 * The one place that builds object keys. Client file names never reach a key unsanitised:
 * no `..`, no slashes, no control characters, bounded length. The original name is kept
 * as object metadata instead.
 */
export const MAX_FILE_NAME_LENGTH = 200;

export const PREFIXES = {
  incoming: 'incoming/',
  processed: 'processed/',
  failed: 'failed/',
  reports: 'reports/',
  exports: 'exports/',
} as const;

export function sanitizeFileName(name: string): string {
  let safe = name
    .normalize('NFC')
    // Control characters, path separators and characters that are awkward in URLs and shells.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|#%{}^~[\]`]+/g, '_')
    // Invisible format characters (category Cf: bidi overrides, zero-width...) would make the
    // key display as another name; the original name stays in the object's metadata.
    .replace(/\p{Cf}+/gu, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .replace(/\.{2,}/g, '.');
  if (safe.length > MAX_FILE_NAME_LENGTH) {
    // Keep the extension: it tells the poller the format.
    const dot = safe.lastIndexOf('.');
    const ext = dot > 0 && safe.length - dot <= 12 ? safe.slice(dot) : '';
    // Never cut an astral character in half (a lone surrogate is not valid in an S3 key),
    // and a cut next to the extension must not join dots back into `..`.
    safe = (safe.slice(0, MAX_FILE_NAME_LENGTH - ext.length).replace(/[\ud800-\udbff]$/, '') + ext).replace(/\.{2,}/g, '.');
  }
  return safe.length === 0 ? 'file' : safe;
}

/** Rejects keys no adapter should ever be asked to touch. */
export function assertSafeKey(key: string): string {
  // eslint-disable-next-line no-control-regex
  if (key.length === 0 || key.length > 1024 || key.startsWith('/') || /[\u0000-\u001f\u007f]/.test(key)) {
    throw errors.internal(new Error('unsafe object key'));
  }
  if (key.split('/').some((part) => part === '..' || part === '.')) {
    throw errors.internal(new Error('unsafe object key'));
  }
  return key;
}

export function incomingKey(fileId: string, fileName: string): string {
  return assertSafeKey(`${PREFIXES.incoming}${fileId}/${sanitizeFileName(fileName)}`);
}

/** Moves an object key from incoming/ to processed/ or failed/, keeping the rest. */
export function settledKey(incoming: string, outcome: 'processed' | 'failed'): string {
  const rest = incoming.startsWith(PREFIXES.incoming) ? incoming.slice(PREFIXES.incoming.length) : incoming;
  return assertSafeKey(`${PREFIXES[outcome]}${rest}`);
}

export function errorReportKey(jobId: string): string {
  return assertSafeKey(`${PREFIXES.reports}${jobId}.errors.ndjson`);
}
