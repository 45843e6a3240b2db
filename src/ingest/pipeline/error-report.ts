import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { RowError } from '../../domain/model.js';
import type { ObjectStore } from '../../storage/ports.js';

/** Every row error of a pass, as NDJSON in a temp file, uploaded as the job's error report. */
export class ErrorReport {
  count = 0;
  private constructor(
    private readonly file: string,
    private readonly out: WriteStream,
  ) {}

  static async create(jobId: string): Promise<ErrorReport> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-report-'));
    const file = path.join(dir, `${jobId}.ndjson`);
    return new ErrorReport(file, createWriteStream(file));
  }

  add(error: RowError): void {
    this.count++;
    this.out.write(`${JSON.stringify(error)}\n`);
  }

  async upload(objects: ObjectStore, bucket: string, key: string): Promise<void> {
    this.out.end();
    await finished(this.out);
    await objects.putStream(bucket, key, createReadStream(this.file), { contentType: 'application/x-ndjson' });
  }

  async discard(): Promise<void> {
    if (!this.out.writableEnded) this.out.end();
    await finished(this.out).catch(() => undefined);
    await fs.rm(path.dirname(this.file), { recursive: true, force: true });
  }
}
