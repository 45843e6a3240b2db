import { recordTooLargeMessage } from '../../domain/record-builder.js';
import { FileRejectedError } from './types.js';

/** The file failure for one element, line or row past the record size limit. */
export function recordTooLarge(what: string, limit: number, cause?: unknown): FileRejectedError {
  return new FileRejectedError('record_too_large', recordTooLargeMessage(what, limit), cause === undefined ? undefined : { cause });
}

const EMPTY = Buffer.alloc(0);

/**
 * The bytes of the one element a splitter is collecting (a JSON array element, an NDJSON
 * line, an XML child of the root) as slices of the chunks it came in, joined only once it
 * is complete. It refuses to grow past the limit, so a huge element without an end never
 * holds more than the limit in memory, and every splitter fails it the same way.
 */
export class ElementBuffer {
  private parts: Buffer[] = [];
  private length = 0;
  private dropping = false;

  /** `describe` names the element being collected ("element 3") for the failure message. */
  constructor(
    private readonly limit: number,
    private readonly describe: () => string,
  ) {}

  /** Bytes held so far. */
  get size(): number {
    return this.length;
  }

  /** True once the element is refused whole and its bytes are no longer kept. */
  get dropped(): boolean {
    return this.dropping;
  }

  /**
   * Refuses the element whole (it is nested too deep): what was held is released and the
   * rest of it is only skipped over while the splitter looks for its end. That is what
   * keeps a value a million levels deep a row rejection rather than a file failure for
   * its size. `finish` and `take` then return an empty buffer.
   */
  drop(): void {
    this.parts.length = 0;
    this.length = 0;
    this.dropping = true;
  }

  /** Adds bytes of the element; throws record_too_large once it passes the limit. */
  hold(part: Buffer): void {
    if (this.dropping) return;
    this.length += part.length;
    if (this.length > this.limit) throw recordTooLarge(this.describe(), this.limit);
    this.parts.push(part);
  }

  /**
   * Adds the element's last slice and returns the whole element; the buffer starts empty
   * again. An element that came in one slice (most NDJSON lines) is handed over as it is.
   */
  finish(last: Buffer): Buffer {
    if (this.dropping) return this.take();
    if (this.length === 0) {
      if (last.length > this.limit) throw recordTooLarge(this.describe(), this.limit);
      return last;
    }
    this.hold(last);
    return this.take();
  }

  /** The element held so far (no copy when it came in one slice); the buffer starts empty again. */
  take(): Buffer {
    const bytes = this.dropping ? EMPTY : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.clear();
    return bytes;
  }

  clear(): void {
    // Emptied in place: the NDJSON splitter takes a line per call, and a new array each time shows up.
    this.parts.length = 0;
    this.length = 0;
    this.dropping = false;
  }
}
