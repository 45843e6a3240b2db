import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseFieldPaths, parseSince } from './export-request.js';
import type { ParquetColumn } from './parquet-values.js';

export type ExportJobFormat = 'ndjson' | 'csv' | 'parquet';
export type ExportJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** One finished part in the bucket, as the manifest lists it. */
export interface ExportPart {
  name: string;
  key: string;
  records: number;
  bytes: number;
  sha256: string;
}

/**
 * An export job of one project, kept as its own item in the control store. Progress is
 * what the finished (checkpointed) parts hold; `resumeAfter` is where the next part starts.
 */
export interface ExportJob {
  id: string;
  projectId: string;
  format: ExportJobFormat;
  gzip: boolean;
  since?: string;
  /** Dot paths chosen by `fields`, as given. */
  fields?: string[];
  status: ExportJobStatus;
  records: number;
  bytes: number;
  parts: ExportPart[];
  /** The store position (a page's lastId) after the last finished part; absent before the first. */
  resumeAfter?: string;
  /** True once every record was written to a part (only the manifest may be missing). */
  exhausted?: boolean;
  /** CSV columns (data paths), fixed when the job starts so every part has the same header. */
  columns?: string[][];
  /** Parquet columns and their types, fixed when the job starts so every part has the same schema. */
  parquetColumns?: ParquetColumn[];
  /** Parquet: numbers rounded to a double, values whose type did not fit their column (all parts so far). */
  conversions?: { roundedNumbers: number; unconverted: number };
  /** When the job first started reading records. */
  snapshotStartedAt?: string;
  failure?: { code: string; message: string };
  attempts: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  leaseOwner?: string;
  leaseExpiresAt?: number;
}

export const isFinished = (job: Pick<ExportJob, 'status'>) => job.status === 'succeeded' || job.status === 'failed';

export const exportJobBodySchema = z
  .object({
    format: z.string(),
    gzip: z.boolean().optional(),
    since: z.string().optional(),
    fields: z.union([z.string(), z.array(z.string()).min(1).max(1000)]).optional(),
  })
  .strict();

export interface ExportJobRequest {
  format: ExportJobFormat;
  gzip: boolean;
  since?: string;
  fields?: string[];
}

/** The body of POST .../exports (shape checked by exportJobBodySchema), with the streamed export's rules. */
export function parseExportJobRequest(parsed: z.infer<typeof exportJobBodySchema>): ExportJobRequest {
  if (parsed.format !== 'ndjson' && parsed.format !== 'csv' && parsed.format !== 'parquet') {
    throw new AppError(400, 'unknown_format', `Unknown export job format ${JSON.stringify(parsed.format.slice(0, 40))}; use ndjson, csv or parquet.`);
  }
  const fields = parsed.fields === undefined ? undefined : Array.isArray(parsed.fields) ? parsed.fields.join(',') : parsed.fields;
  const paths = parseFieldPaths(fields);
  return {
    format: parsed.format,
    // Parquet compresses inside the file (Snappy per column chunk): a gzip around it would only cost.
    gzip: parsed.format === 'parquet' ? false : (parsed.gzip ?? false),
    since: parseSince(parsed.since),
    fields: paths?.map((path) => path.join('.')),
  };
}

export const exportJobErrors = {
  notFound: (id: string) => new AppError(404, 'export_not_found', `No export ${JSON.stringify(id.slice(0, 60))} in this project.`),
  expired: (id: string, days: number) =>
    new AppError(410, 'export_expired', `Export ${JSON.stringify(id.slice(0, 60))} is no longer kept: export files are deleted ${days} days after the export started.`),
  fileNotFound: (name: string) =>
    new AppError(404, 'export_file_not_found', `This export has no finished file ${JSON.stringify(name.slice(0, 60))}.`),
};
