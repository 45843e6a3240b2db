import type { Config } from './config.js';
import { ApiKeyService } from './domain/api-keys.service.js';
import { AuthService } from './domain/auth.service.js';
import { SessionService } from './domain/session.service.js';
import { JoseZeroTrust, type ZeroTrustService } from './domain/zero-trust.service.js';
import { OverviewService } from './domain/overview.service.js';
import { CursorCodec } from './domain/cursor.js';
import { HealthService } from './domain/health.service.js';
import { JobService } from './domain/jobs.service.js';
import { PROJECT_CACHE_MS, ProjectService } from './domain/projects.service.js';
import { RecordService } from './domain/records.service.js';
import { RecordModelService } from './domain/record-model.service.js';
import { IndexBackfill } from './domain/index-backfill.js';
import { ProjectDeletion } from './domain/project-deletion.js';
import { randomUUID } from 'node:crypto';
import { FileUploadService } from './ingest/file-upload.service.js';
import { ModelPreviewService } from './quality/model-preview.service.js';
import type { JobItem } from './domain/model.js';
import type { Storage } from './storage/ports.js';
import { QuarantineService } from './quality/quarantine/quarantine.service.js';
import { QuarantineReplay } from './quality/quarantine/quarantine-replay.js';
import { FieldCatalogService } from './quality/catalog/field-catalog.service.js';
import { ExportJobs } from './export/export-jobs.service.js';
import type { Logger } from './observability/logger.js';

export interface Services {
  projects: ProjectService;
  keys: ApiKeyService;
  auth: AuthService;
  /** Console sessions and their CSRF tokens, keyed from the admin token. */
  sessions: SessionService;
  /** Cloudflare Access / ALB OIDC identity, when configured. */
  zeroTrust?: ZeroTrustService;
  /** The console's overview: counts, hourly ingest, latest alerts. */
  overview: OverviewService;
  records: RecordService;
  models: RecordModelService;
  /** Index backfills: started by a model change, resumed by the poller when their worker died. */
  backfill: IndexBackfill;
  jobs: JobService;
  health: HealthService;
  deletions: ProjectDeletion;
  cursors: CursorCodec;
  previews: ModelPreviewService;
  uploads: FileUploadService;
  quarantine: QuarantineService;
  catalog: FieldCatalogService;
  exportJobs: ExportJobs;
}

/** Domain services over the storage ports, shared by the HTTP app and the poller. */
export function createServices(
  config: Config,
  storage: Storage,
  adminToken: string,
  onJobQueued?: (job: JobItem) => void,
  logger?: Logger,
): Services {
  const projects = new ProjectService(storage.control, storage.records, storage.objects, config.namePrefix);
  const keys = new ApiKeyService(storage.control, config.keyCacheMs);
  const records = new RecordService(storage.records, storage.control, {
    maxRecordsPerRequest: config.limits.maxRecordsPerRequest,
    maxJsonDepth: config.limits.maxJsonDepth,
  });
  const backfill = new IndexBackfill(storage.control, storage.records, `backfill-${process.pid}-${randomUUID()}`);
  return {
    projects,
    keys,
    auth: new AuthService(adminToken, keys, projects),
    sessions: new SessionService(adminToken),
    zeroTrust: JoseZeroTrust.enabled(config.zeroTrust) ? new JoseZeroTrust(config.zeroTrust) : undefined,
    overview: new OverviewService(storage.control, storage.records),
    records,
    models: new RecordModelService(storage.control, storage.records, projects, backfill),
    backfill,
    jobs: new JobService(storage.control),
    health: new HealthService(storage.control, storage.objects),
    deletions: new ProjectDeletion(
      storage.control,
      storage.records,
      storage.objects,
      keys,
      projects,
      `deletion-${process.pid}-${randomUUID()}`,
      Math.max(config.keyCacheMs, PROJECT_CACHE_MS),
    ),
    previews: new ModelPreviewService(storage.objects, storage.records, {
      maxDecompressedBytes: config.limits.maxDecompressedBytes,
      maxInflationRatio: config.limits.maxInflationRatio,
      maxJsonDepth: config.limits.maxJsonDepth,
    }),
    cursors: new CursorCodec(adminToken),
    catalog: new FieldCatalogService(storage.control.catalog),
    uploads: new FileUploadService(storage.objects, storage.control, config.limits.maxFileBytes, onJobQueued, undefined, {
      processedRetentionDays: config.processedRetentionDays,
    }),
    exportJobs: new ExportJobs(storage.control.exports, records, storage.objects, logger, {
      partRecords: config.exportJobs.partRecords,
      partBytes: config.exportJobs.partBytes,
      leaseMs: config.poller.leaseMs,
      owner: `export-${process.pid}-${randomUUID()}`,
      catalog: new FieldCatalogService(storage.control.catalog),
      retentionDays: config.exportJobs.retentionDays,
    }),
    quarantine: new QuarantineService(
      storage.control.quarantine,
      config.quarantineRetentionDays,
      Date.now,
      new QuarantineReplay(storage.control, storage.records),
    ),
  };
}
