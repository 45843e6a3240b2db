import { Readable } from 'node:stream';
import { monotonicFactory } from 'ulid';

// Jobs made in the same millisecond still sort in the order they were made.
const ulid = monotonicFactory();
import { AppError } from '../errors.js';
import type { ProjectItem } from '../domain/model.js';
import { isKeyed } from '../domain/record-model.js';
import type { RecordService } from '../domain/records.service.js';
import type { Logger } from '../observability/logger.js';
import type { ExportJobStore, ObjectStore, Page } from '../storage/ports.js';
import { exportJobErrors, type ExportJob, type ExportJobRequest } from './export-job.js';
import { exportObjectKey, writeExportPart, type PartBounds } from './export-part.js';
import { csvColumns, csvHeader, leafPaths, parseData } from './export-rows.js';
import { writeParquetPart, type ParquetWrittenPart } from './parquet-part.js';
import { FieldSeer, fieldsFromCatalog, parquetColumns, type SeenField } from './parquet-schema.js';
import { schemaElements, type ParquetColumn } from './parquet-values.js';
import type { CatalogField } from '../quality/catalog/field-catalog.js';

export interface ExportJobOptions {
  partRecords: number;
  partBytes: number;
  /** Records per store read (default 500, as the streamed export). */
  pageSize?: number;
  leaseMs: number;
  owner: string;
  now?: () => number;
  /** Days the job's objects are kept (INTAKE_EXPORT_RETENTION_DAYS); 0 or unset keeps them. */
  retentionDays?: number;
  /** The project's field catalog: Parquet's columns and types without a first pass, when it knows the fields. */
  catalog?: { list(project: ProjectItem, page: { limit: number; after?: string }): Promise<Page<CatalogField>> };
}

export const MANIFEST_NAME = 'manifest.json';
const DAY_MS = 86_400_000;

/**
 * Export jobs into the project bucket. A project's jobs run one at a time, oldest first
 * (a second job waits queued behind the first). Each job is leased like a file job: the
 * task holding the lease writes part after part, and saves the job after each finished
 * part (its checkpoint); a task that dies loses its lease and the next one to look
 * (`resume`, called by the poller for every project) carries on at the next part.
 */
export class ExportJobs {
  private readonly driving = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly now: () => number;
  private readonly pageSize: number;

  constructor(
    private readonly store: ExportJobStore,
    private readonly records: RecordService,
    private readonly objects: ObjectStore,
    private readonly logger: Pick<Logger, 'warn' | 'error'> | undefined,
    private readonly options: ExportJobOptions,
  ) {
    // Read at each call, so that a clock set in a test reaches a service made before it.
    this.now = options.now ?? (() => Date.now());
    this.pageSize = options.pageSize ?? 500;
  }

  async create(project: ProjectItem, request: ExportJobRequest): Promise<ExportJob> {
    const at = new Date(this.now()).toISOString();
    const job: ExportJob = { id: ulid(), projectId: project.id, ...request, status: 'queued', records: 0, bytes: 0, parts: [], attempts: 0, createdAt: at, updatedAt: at };
    await this.store.createExport(job);
    this.resume(project);
    return job;
  }

  async get(project: ProjectItem, id: string): Promise<ExportJob> {
    const job = await this.store.getExport(project.id, id);
    if (job === null) throw exportJobErrors.notFound(id);
    return job;
  }

  list(project: ProjectItem, options: { limit: number; after?: string }): Promise<Page<ExportJob>> {
    return this.store.listExports(project.id, options);
  }

  /**
   * When the job's objects expire: retention days after the snapshot started, before any
   * part was written, so no object of the job is older. S3's lifecycle rule counts from each
   * object's creation (rounded up to midnight UTC), so every object is still there until
   * then; null when objects are kept or the job never started.
   */
  expiresAt(job: Pick<ExportJob, 'snapshotStartedAt'>): string | null {
    const days = this.options.retentionDays ?? 0;
    if (days <= 0 || job.snapshotStartedAt === undefined) return null;
    return new Date(Date.parse(job.snapshotStartedAt) + days * DAY_MS).toISOString();
  }

  /**
   * A finished part (or the manifest of a finished job) read back from the bucket. Past
   * expiresAt: 410 export_expired, whether or not the store has removed the object yet (S3
   * removes expired objects lazily), so every mode answers alike.
   */
  async openFile(project: ProjectItem, id: string, name: string): Promise<{ job: ExportJob; body: Readable; bytes?: number }> {
    const job = await this.get(project, id);
    const expiresAt = this.expiresAt(job);
    if (expiresAt !== null && Date.parse(expiresAt) <= this.now()) throw exportJobErrors.expired(id, this.options.retentionDays ?? 0);
    const part = job.parts.find((p) => p.name === name);
    if (part === undefined && !(name === MANIFEST_NAME && job.status === 'succeeded')) throw exportJobErrors.fileNotFound(name);
    const key = exportObjectKey(job.id, name);
    if ((await this.objects.head(project.bucketName, key)) === null) throw exportJobErrors.fileNotFound(name);
    return { job, body: await this.objects.getStream(project.bucketName, key), bytes: part?.bytes };
  }

  /** Works through the project's unfinished exports unless this task already does. */
  resume(project: ProjectItem): void {
    if (this.driving.has(project.id) || this.stopping.signal.aborted) return;
    const work = this.drive(project)
      .catch((error: unknown) => {
        this.logger?.warn('export job paused', { event: 'export_paused', projectId: project.id, error: String(error) });
      })
      .finally(() => this.driving.delete(project.id));
    this.driving.set(project.id, work);
  }

  /** Stops after the part under way (its lease then expires and another task resumes it). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled(this.driving.values());
  }

  private async drive(project: ProjectItem): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const next = await this.store.nextUnfinishedExport(project.id);
      if (next === null) return;
      const claimed = await this.store.claimExport(project.id, next.id, this.options.owner, this.options.leaseMs, this.now());
      if (claimed === null) return;
      if (!(await this.run(project, claimed))) return;
    }
  }

  /** Runs a claimed job to its end; false when it stopped without finishing (lease lost, stopping, outage). */
  private async run(project: ProjectItem, claimed: ExportJob): Promise<boolean> {
    let job: ExportJob = { ...claimed, snapshotStartedAt: claimed.snapshotStartedAt ?? new Date(this.now()).toISOString() };
    const lost = new AbortController();
    const stop = AbortSignal.any([lost.signal, this.stopping.signal]);
    // Saves are chained so that a heartbeat never writes an older state over a checkpoint.
    let saving: Promise<boolean> = Promise.resolve(true);
    const save = () => {
      saving = saving.then(async () => {
        const ok = await this.store.saveExport(job, this.options.owner, this.options.leaseMs, this.now());
        if (!ok) lost.abort();
        return ok;
      });
      return saving;
    };
    const heartbeat = setInterval(() => void save().catch(() => undefined), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    try {
      if (!(await save())) return false;
      if (job.format === 'csv' && job.columns === undefined) {
        job = { ...job, columns: job.fields?.map((name) => name.split('.')) ?? (await this.discoverColumns(project, job, stop)) };
        if (!(await save())) return false;
      }
      if (job.format === 'parquet' && job.parquetColumns === undefined) {
        job = { ...job, parquetColumns: parquetColumns(project, await this.discoverFields(project, job, stop)) };
        if (!(await save())) return false;
      }
      const columns = job.format === 'csv' ? csvColumns(isKeyed(project.model), job.columns ?? []) : undefined;
      const bounds: PartBounds = { records: this.options.partRecords, bytes: this.options.partBytes, pageSize: this.pageSize };
      while (job.exhausted !== true) {
        if (stop.aborted) return false;
        const deps = { records: this.records, objects: this.objects };
        const written =
          job.format === 'parquet'
            ? await writeParquetPart(deps, project, job, job.parquetColumns ?? [], bounds, stop)
            : await writeExportPart(deps, project, job, columns, bounds, stop);
        if (stop.aborted) return false;
        if (written !== null && 'counts' in written) {
          const counts = (written as ParquetWrittenPart).counts;
          const before = job.conversions ?? { roundedNumbers: 0, unconverted: 0 };
          job = {
            ...job,
            conversions: { roundedNumbers: before.roundedNumbers + counts.roundedNumbers, unconverted: before.unconverted + counts.unconverted },
          };
        }
        job =
          written === null
            ? { ...job, exhausted: true }
            : {
                ...job,
                parts: [...job.parts, written.part],
                records: job.records + written.part.records,
                bytes: job.bytes + written.part.bytes,
                resumeAfter: written.lastId,
                exhausted: written.lastId === undefined,
              };
        if (!(await save())) return false;
      }
      await this.writeManifest(project, job, columns === undefined ? undefined : csvHeader(columns));
      job = { ...job, status: 'succeeded', finishedAt: new Date(this.now()).toISOString() };
      return await save();
    } catch (error) {
      if (stop.aborted || (error instanceof AppError && error.status === 503)) return false;
      this.logger?.error('export job failed', { event: 'export_failed', projectId: project.id, exportId: job.id, error: String(error) });
      const message = error instanceof AppError ? error.message : 'The export failed on an unexpected error.';
      job = { ...job, status: 'failed', failure: { code: 'export_failed', message: message.slice(0, 300) }, finishedAt: new Date(this.now()).toISOString() };
      await save().catch(() => undefined);
      return true;
    } finally {
      clearInterval(heartbeat);
      await saving.catch(() => undefined);
      // A task shutting down hands the lease back at once (lease of 0 ms): the next task
      // need not wait for it to expire, and carries on after the last checkpoint.
      if (this.stopping.signal.aborted && !lost.signal.aborted && job.status === 'running') {
        await this.store.saveExport(job, this.options.owner, 0, this.now()).catch(() => undefined);
      }
    }
  }

  /** CSV without `fields`: the union of the data's leaf paths, found in a first pass. */
  private async discoverColumns(project: ProjectItem, job: ExportJob, signal: AbortSignal): Promise<string[][]> {
    const found = new Map<string, string[]>();
    let after: string | undefined;
    do {
      // Seen by run() as a stop, never as a failure.
      if (signal.aborted) throw new Error('export stopped');
      const page =
        job.since !== undefined
          ? await this.records.listUpdatedSince(project, { since: job.since, limit: this.pageSize, after })
          : await this.records.list(project, { limit: this.pageSize, afterId: after });
      for (const record of page.items) leafPaths(parseData(record), [], found);
      after = page.lastId;
    } while (after !== undefined);
    return [...found.values()];
  }

  /**
   * Parquet's data columns: the field catalog's top-level fields (or the chosen paths) when
   * the catalog knows any, else a first pass over the records. The catalog may name fields
   * no exported record holds any more: their columns are all null, which costs little.
   */
  private async discoverFields(project: ProjectItem, job: ExportJob, signal: AbortSignal): Promise<SeenField[]> {
    const chosen = job.fields?.map((name) => name.split('.'));
    if (this.options.catalog !== undefined) {
      const catalog: CatalogField[] = [];
      let after: string | undefined;
      do {
        const page = await this.options.catalog.list(project, { limit: 500, after });
        catalog.push(...page.items);
        after = page.next;
      } while (after !== undefined);
      if (catalog.length > 0) return fieldsFromCatalog(catalog, chosen);
    }
    const seer = new FieldSeer(chosen);
    let after: string | undefined;
    do {
      if (signal.aborted) throw new Error('export stopped');
      const page =
        job.since !== undefined
          ? await this.records.listUpdatedSince(project, { since: job.since, limit: this.pageSize, after })
          : await this.records.list(project, { limit: this.pageSize, afterId: after });
      for (const record of page.items) seer.add(record);
      after = page.lastId;
    } while (after !== undefined);
    return seer.fields();
  }

  private async writeManifest(project: ProjectItem, job: ExportJob, header: string[] | undefined): Promise<void> {
    const manifest = {
      exportId: job.id,
      projectId: project.id,
      format: job.format,
      compression: job.gzip ? 'gzip' : 'none',
      since: job.since ?? null,
      fields: job.fields ?? null,
      snapshotStartedAt: job.snapshotStartedAt,
      schema:
        job.parquetColumns !== undefined
          ? { parquet: parquetSchema(job.parquetColumns) }
          : header !== undefined
          ? { columns: header }
          : { record: isKeyed(project.model) ? ['id', 'key', 'data', 'version', 'createdAt', 'updatedAt', 'source'] : ['id', 'data', 'source', 'ingestedAt'] },
      records: job.records,
      bytes: job.bytes,
      ...(job.conversions !== undefined ? { conversions: job.conversions } : {}),
      parts: job.parts.map(({ name, key, records, bytes, sha256 }) => ({ name, key, records, bytes, sha256 })),
    };
    await this.objects.putStream(project.bucketName, exportObjectKey(job.id, MANIFEST_NAME), Readable.from([JSON.stringify(manifest, null, 2)]), {
      contentType: 'application/json',
    });
  }
}

/** The manifest's description of Parquet columns: our kind and the Parquet physical and converted types. */
function parquetSchema(columns: readonly ParquetColumn[]) {
  const elements = schemaElements(columns).slice(1);
  return columns.map((column, i) => {
    const element = elements[i] as { type: string; converted_type?: string };
    return { name: column.name, kind: column.kind, type: element.type, convertedType: element.converted_type ?? null, nullable: true };
  });
}
