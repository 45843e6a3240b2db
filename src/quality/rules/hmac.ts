import { createHmac, hash } from 'node:crypto';

/**
 * HMAC-SHA-256 as hex, for the `hash` step's many short values: the RFC 2104 construction,
 * H((K ^ opad) || H((K ^ ipad) || m)), over Node's one-shot crypto.hash with the padded
 * keys made once. createHmac per value builds a native object each time, about twice the
 * cost for a customer id. A value longer than the scratch buffer takes createHmac; unit
 * tests compare both on many values (empty, non-ASCII, long, keys past the block size).
 */

const BLOCK = 64;
/** Bytes of value the scratch buffer holds; longer values are rare and take createHmac. */
const SCRATCH = 1024;

export function hmacSha256Hex(key: Buffer): (text: string) => string {
  // A key longer than the block is hashed first, as HMAC defines; a shorter one is zero-padded.
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const inner = Buffer.alloc(BLOCK + SCRATCH, 0);
  const outer = Buffer.alloc(BLOCK + 32, 0);
  k.copy(inner);
  k.copy(outer);
  for (let i = 0; i < BLOCK; i++) {
    inner[i]! ^= 0x36;
    outer[i]! ^= 0x5c;
  }
  // Views of the inner buffer by message length, made once each (a view is an allocation).
  const views: Buffer[] = [];
  const innerOf = (bytes: number) => (views[bytes] ??= inner.subarray(0, BLOCK + bytes));
  return (text) => {
    // Up to 3 bytes of UTF-8 per UTF-16 unit: a text this short always fits.
    if (text.length * 3 > SCRATCH) return createHmac('sha256', key).update(text).digest('hex');
    const bytes = inner.write(text, BLOCK, 'utf8');
    // The inner digest as 'binary' (latin1) text: its bytes one per character, written back as such.
    outer.write(hash('sha256', innerOf(bytes), 'binary'), BLOCK, 'binary');
    return hash('sha256', outer, 'hex');
  };
}
