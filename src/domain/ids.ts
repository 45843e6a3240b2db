import { createHash, randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The same CSPRNG bytes ulid's default draws, taken from a pool refilled 4 KiB at a time:
 * the default asks the system for one byte per character (16 calls per id), which cost
 * about a twentieth of a small push's time.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

/** A new time-ordered id (ULID) for records pushed without an Idempotency-Key. */
export function newRecordId(): string {
  return nextUlid();
}

/**
 * A 26-character id derived from its parts (SHA-256, Crockford base32, 130 bits): the same
 * parts always give the same id, so a retried push or a re-processed file row overwrites
 * its own record instead of adding a second one.
 */
export function deterministicId(...parts: (string | number)[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (let i = 0; out.length < 26; i++) {
    value = (value << 8) | digest[i]!;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}
