import { createHash } from 'node:crypto';

const MAX_PLAIN_KEY_LENGTH = 200;

/**
 * The fixed window a hit falls in. Windows are aligned to multiples of their length, so
 * every task agrees on the current one; the window's start is part of the counter's key,
 * so an old window's counter is never read again.
 */
export function rateWindow(key: string, windowMs: number, now: number): { counterKey: string; resetAt: Date } {
  const start = Math.floor(now / windowMs) * windowMs;
  // Keys are short (a key id, an address); anything longer is hashed to bound the stored key.
  const safe = key.length <= MAX_PLAIN_KEY_LENGTH ? key : createHash('sha256').update(key).digest('base64url');
  return { counterKey: `ratelimit#${safe}#${windowMs}#${start}`, resetAt: new Date(start + windowMs) };
}
