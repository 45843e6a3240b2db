// The Parquet writer thread's entry (started by parquet-thread.ts): it takes a part's records
// in pages, builds row groups and writes them to the part's file on disk.
import { parentPort, workerData } from 'node:worker_threads';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { compressSync } from 'snappy';
import type { StoredRecord } from '../domain/model.js';
import { encodeTexts, mostlyDistinct } from './parquet-text.js';
import { valueAt } from './export-rows.js';
import { columnValue, envelopeValue, fastData, schemaElements, type ConversionCounts, type ParquetColumn } from './parquet-values.js';

/**
 * Rows per row group, and the text a row group may hold before it is written anyway: the
 * writer keeps one row group's columns in memory, so this bounds memory whatever the
 * records' size (a project of 300 KB strings gets row groups of ~100 rows). Every value of
 * a row group lives until the group is written: at 50,000 rows they outlived the young
 * generation and garbage collection took a quarter of a job's time; at 10,000 the file
 * is 2% bigger and the job about a fifth faster.
 */
const ROW_GROUP_ROWS = 10_000;
const ROW_GROUP_CHARS = 32 * 1024 * 1024;

export interface ParquetWorkerData {
  file: string;
  columns: ParquetColumn[];
}

/** From the server's thread: a page of records, or the end of the part. */
export type ParquetWorkerRequest = { type: 'records'; records: StoredRecord[] } | { type: 'finish' };
/** To the server's thread: a page was taken in, or the file is complete. */
export type ParquetWorkerReply = { type: 'taken' } | { type: 'finished'; counts: ConversionCounts };

/**
 * Column statistics (min/max) only where readers prune on them cheaply: numbers, booleans
 * and times. For text they cost the writer a comparison per value and are truncated to a
 * prefix anyway. `id` and `source` differ on every row, so no dictionary is tried for them.
 */
function columnOptions(column: ParquetColumn): { statistics?: boolean; encoding?: 'PLAIN' } {
  const text = column.kind === 'string' || column.kind === 'json';
  if (column.path === undefined && (column.name === 'id' || column.name === 'source')) return { statistics: false, encoding: 'PLAIN' };
  return text ? { statistics: false } : {};
}

/** One row group's columns as they fill, written when full and at the part's end. */
class RowGroup {
  private data: unknown[][];
  private rows = 0;
  private chars = 0;
  private readonly needsData: boolean;

  constructor(
    private readonly columns: readonly ParquetColumn[],
    private readonly counts: ConversionCounts,
  ) {
    this.data = columns.map(() => []);
    this.needsData = columns.some((column) => column.path !== undefined);
  }

  get full(): boolean {
    return this.rows >= ROW_GROUP_ROWS || this.chars >= ROW_GROUP_CHARS;
  }

  add(record: StoredRecord): void {
    const data = this.needsData ? fastData(record) : {};
    for (let i = 0; i < this.columns.length; i++) {
      const column = this.columns[i]!;
      const value = column.path === undefined ? envelopeValue(record, column.name) : valueAt(data, column.path);
      this.data[i]!.push(columnValue(column.kind, value, this.counts));
    }
    this.rows++;
    this.chars += record.data.length + record.source.length;
  }

  writeTo(writer: ParquetWriter): void {
    if (this.rows === 0) return;
    const columnData = this.columns.map((column, i) => {
      const options = columnOptions(column);
      const text = column.kind === 'string' || column.kind === 'json';
      if (text && (options.encoding === 'PLAIN' || mostlyDistinct(this.data[i]!))) {
        return { name: column.name, data: encodeTexts(this.data[i]!), ...options, encoding: 'PLAIN' as const };
      }
      return { name: column.name, data: this.data[i]!, ...options };
    });
    writer.write({ columnData, rowGroupSize: this.rows }) as void;
    this.data = this.columns.map(() => []);
    this.rows = 0;
    this.chars = 0;
  }
}

/**
 * Snappy by the native library rather than the writer's own JavaScript one: the same
 * format (any reader's), about twenty times the speed (650 against 34 MB/s here). With the
 * JavaScript codec a 1M-record job ran at about 100k records/s, with this one at 135k.
 */
function snappyPage(page: Uint8Array): Uint8Array {
  return compressSync(Buffer.from(page.buffer, page.byteOffset, page.byteLength));
}

if (parentPort !== null) {
  const port = parentPort;
  const { file, columns } = workerData as ParquetWorkerData;
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema: schemaElements(columns),
    codec: 'SNAPPY',
    compressors: { SNAPPY: snappyPage },
    createdBy: 'intake',
  });
  const counts: ConversionCounts = { roundedNumbers: 0, unconverted: 0 };
  const group = new RowGroup(columns, counts);
  // An error thrown here ends the thread; the server's thread sees it as the part's failure.
  port.on('message', (request: ParquetWorkerRequest) => {
    if (request.type === 'records') {
      for (const record of request.records) {
        group.add(record);
        if (group.full) group.writeTo(writer);
      }
      port.postMessage({ type: 'taken' } satisfies ParquetWorkerReply);
    } else {
      group.writeTo(writer);
      writer.finish();
      port.postMessage({ type: 'finished', counts } satisfies ParquetWorkerReply);
    }
  });
}
