import { hash, randomFillSync } from 'node:crypto';
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

/** The parts' bytes are assembled here: one buffer for the process, grown when a part is long. */
let scratch = Buffer.alloc(256);
const ALPHABET = Buffer.from(CROCKFORD, 'latin1');
const idBytes = Buffer.alloc(26);

/**
 * Writes a non-negative integer's decimal digits at `at`; returns the end. Done by hand
 * because V8 keeps every number it turns into text in a cache held by the old generation:
 * one row number per row of a file left a string there for the full collector to find.
 */
function writeDecimal(target: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let end = at + digits;
  for (let rest = n; end > at; rest = Math.floor(rest / 10)) target[--end] = 48 + (rest % 10);
  return at + digits;
}

/** Whether writeDecimal writes `n` exactly as String(n) would. */
function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** The digits of a non-negative integer as a new string (see writeDecimal for why). */
export function decimalText(n: number): string {
  if (!isIndex(n)) return String(n);
  const end = writeDecimal(idBytes, 0, n);
  return idBytes.toString('latin1', 0, end);
}

/**
 * A 26-character id derived from its parts (SHA-256, Crockford base32, 130 bits): the same
 * parts always give the same id, so a retried push or a re-processed file row overwrites
 * its own record instead of adding a second one. The digest is of the parts' UTF-8 bytes
 * joined with NUL, which is what ids have always been made of.
 */
export function deterministicId(...parts: (string | number)[]): string {
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const text = typeof part === 'number' && !isIndex(part) ? String(part) : part;
    // Room for the separator and the part at 3 bytes per UTF-16 unit (UTF-8's worst case) or 16 digits.
    const room = 1 + (typeof text === 'number' ? 16 : text.length * 3);
    if (at + room > scratch.length) {
      const grown = Buffer.alloc(Math.max(scratch.length * 2, at + room));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    if (i > 0) scratch[at++] = 0;
    at = typeof text === 'number' ? writeDecimal(scratch, at, text) : at + scratch.write(text, at, 'utf8');
  }
  const digest = hash('sha256', scratch.subarray(0, at), 'buffer');
  let n = 0;
  let bits = 0;
  let value = 0;
  for (let i = 0; n < 26; i++) {
    value = ((value << 8) | digest[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5 && n < 26) {
      idBytes[n++] = ALPHABET[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
  }
  return idBytes.toString('latin1', 0, 26);
}

/** Rows of one file: a fixed-width base32 row number fits 32^10 (about 10^15) rows. */
const ROW_DIGITS = 10;

/**
 * The id of a file's row: 16 characters derived from the file (80 bits of its digest),
 * then the row number in 10 fixed-width base32 digits. Deterministic like every derived id
 * (a re-processed row overwrites its own record), and ordered within a file, so that a
 * file's rows land side by side in an ordered index instead of scattered over it: in the
 * embedded store, appending in order writes 4-8x faster than writing hashed keys.
 */
export function fileRowIdPrefix(fileId: string): string {
  return deterministicId('row', fileId).slice(0, 26 - ROW_DIGITS);
}

export function fileRowId(prefix: string, row: number): string {
  if (!isIndex(row) || row >= 32 ** ROW_DIGITS) throw new RangeError(`row ${row} is out of range`);
  let rest = row;
  for (let i = ROW_DIGITS - 1; i >= 0; i--) {
    idBytes[i] = ALPHABET[rest % 32]!;
    rest = Math.floor(rest / 32);
  }
  return prefix + idBytes.toString('latin1', 0, ROW_DIGITS);
}
