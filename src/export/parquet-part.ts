import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ProjectItem } from '../domain/model.js';
import type { RecordService } from '../domain/records.service.js';
import type { ObjectStore, RecordPage } from '../storage/ports.js';
import type { ExportJob } from './export-job.js';
import { exportObjectKey, HashingCounter, partName, type PartBounds, type WrittenPart } from './export-part.js';
import { ParquetThread } from './parquet-thread.js';
import type { ConversionCounts, ParquetColumn } from './parquet-values.js';

export type ParquetWrittenPart = WrittenPart & { counts: ConversionCounts };

/**
 * Writes one Parquet part of an export job. hyparquet-writer writes a file front to back
 * but seeks nothing, yet its footer needs every row group's offsets: row groups go to a
 * temporary file on disk as they fill, and the finished file is streamed (hashed, counted)
 * into the bucket, so no part is ever whole in memory. Returns null when there is nothing
 * left and this would be a trailing empty part (an empty project still gets one part: a
 * valid Parquet file with its schema and no rows).
 */
export async function writeParquetPart(
  deps: { records: RecordService; objects: ObjectStore },
  project: ProjectItem,
  job: ExportJob,
  columns: readonly ParquetColumn[],
  bounds: PartBounds,
  signal: AbortSignal,
): Promise<ParquetWrittenPart | null> {
  const fetchPage = (after: string | undefined, limit: number): Promise<RecordPage> =>
    job.since !== undefined
      ? deps.records.listUpdatedSince(project, { since: job.since, limit, after })
      : deps.records.list(project, { limit, afterId: after });
  let page = await fetchPage(job.resumeAfter, Math.min(bounds.pageSize, bounds.records));
  const index = job.parts.length;
  if (page.items.length === 0 && index > 0) return null;

  const dir = await mkdtemp(join(tmpdir(), 'intake-export-'));
  let thread: ParquetThread | undefined;
  try {
    const file = join(dir, 'part.parquet');
    thread = new ParquetThread(file, columns);
    let records = 0;
    let chars = 0;
    let lastId: string | undefined;
    for (;;) {
      await thread.add(page.items);
      records += page.items.length;
      for (const record of page.items) chars += record.data.length;
      lastId = page.lastId;
      if (lastId === undefined || records >= bounds.records || chars >= bounds.bytes || signal.aborted) break;
      // An embedded store answers at once and handing a page to the writer's thread waits
      // only when it is behind: without a turn of the event loop per page, the reads of a
      // 1M-record part could keep every request of the server waiting (health checks too).
      await nextTurn();
      page = await fetchPage(lastId, Math.min(bounds.pageSize, bounds.records - records));
      if (page.items.length === 0) {
        lastId = undefined;
        break;
      }
    }
    if (signal.aborted) return null;
    const counts = await thread.finish();

    const name = partName(job, index);
    const key = exportObjectKey(job.id, name);
    const counter = new HashingCounter();
    pipeline(createReadStream(file), counter, () => undefined); // an error reaches putStream through the counter
    await deps.objects.putStream(project.bucketName, key, counter, { contentType: 'application/vnd.apache.parquet', signal });
    return { part: { name, key, records, bytes: counter.bytes, sha256: counter.hash.digest('hex') }, lastId, counts };
  } finally {
    await thread?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
