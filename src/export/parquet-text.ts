/**
 * Text columns handed to hyparquet-writer as UTF-8 bytes. Given strings, the writer encodes
 * each value with a TextEncoder of its own: one ArrayBuffer per value, which the garbage
 * collector then frees one by one (in a profile of a 200k-record Parquet job that cost more
 * than reading the records). Here a row group's values are written into shared 1 MiB slabs
 * and handed on as views of them. Only for columns written PLAIN: the writer keys a
 * dictionary of byte values by a hash it computes in JavaScript, slower than its map of
 * strings, so columns that may get a dictionary keep their strings.
 */

const SLAB_BYTES = 1024 * 1024;
const SAMPLE = 1000;

/**
 * True when the column would not get a dictionary anyway: the writer's own test (its
 * sample's distinct values are more than 90% of the sample's bytes), on string lengths.
 */
export function mostlyDistinct(values: readonly unknown[]): boolean {
  const size = Math.min(values.length, SAMPLE);
  const seen = new Set<string>();
  let distinct = 0;
  let total = 0;
  for (let i = 0; i < size; i++) {
    const value = values[size === 1 ? 0 : Math.floor((i * (values.length - 1)) / (size - 1))];
    if (typeof value !== 'string') continue;
    total += value.length + 4;
    if (!seen.has(value)) {
      seen.add(value);
      distinct += value.length + 4;
    }
  }
  return total > 0 && distinct > 0.9 * total;
}

/** Replaces each string of the array by its UTF-8 bytes, in place; other values stay. */
export function encodeTexts(values: unknown[]): unknown[] {
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let used = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'string') continue;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const room = value.length * 3;
    if (room > SLAB_BYTES) {
      values[i] = Buffer.from(value);
      continue;
    }
    if (used + room > slab.length) {
      slab = Buffer.allocUnsafe(SLAB_BYTES);
      used = 0;
    }
    const bytes = slab.write(value, used);
    values[i] = slab.subarray(used, used + bytes);
    used += bytes;
  }
  return values;
}
