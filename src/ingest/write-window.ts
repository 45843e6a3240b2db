/**
 * Keeps up to `limit` batch writes of a job in flight at once, so storage always has
 * work while the parser fills the next batch, and knows the row through which every
 * row is stored even though batches finish out of order: that row, not the last one
 * written, is what a checkpoint may promise.
 */
export class WriteWindow {
  /** Every row up to here is stored. */
  storedThrough: number;
  /** Records of every write that has finished, in order or not: each one is in storage. */
  recordsStored = 0;
  private readonly queue: { lastRow: number; done: boolean }[] = [];
  private running = 0;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly limit: number,
    storedThrough: number,
  ) {
    if (!(limit >= 1)) throw new RangeError('limit must be at least 1');
    this.storedThrough = storedThrough;
  }

  /**
   * Starts `write` (of `records` records, rows up to `lastRow`, after every row added
   * before) once a slot is free. Throws the error of an earlier write that failed; later
   * rows are not written.
   */
  async add(write: () => Promise<void>, lastRow: number, records: number): Promise<void> {
    this.throwIfFailed();
    while (this.running >= this.limit) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.throwIfFailed();
    }
    const entry = { lastRow, done: false };
    this.queue.push(entry);
    this.running++;
    write().then(
      () => {
        entry.done = true;
        while (this.queue[0]?.done) this.storedThrough = this.queue.shift()!.lastRow;
        this.recordsStored += records;
        this.settled();
      },
      (error: unknown) => {
        this.failure ??= { error };
        this.settled();
      },
    );
  }

  /** Waits for every write in flight; then throws the first failure, if any. */
  async drain(): Promise<void> {
    while (this.running > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.throwIfFailed();
  }

  private settled(): void {
    this.running--;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
