import type { Config } from './config.js';
import { ApiKeyService } from './domain/api-keys.service.js';
import { CursorCodec } from './domain/cursor.js';
import { ProjectService } from './domain/projects.service.js';
import { RecordService } from './domain/records.service.js';
import { FileUploadService } from './ingest/file-upload.service.js';
import type { JobItem } from './domain/model.js';
import type { Storage } from './storage/ports.js';

export interface Services {
  projects: ProjectService;
  keys: ApiKeyService;
  records: RecordService;
  cursors: CursorCodec;
  uploads: FileUploadService;
}

/** Domain services over the storage ports, shared by the HTTP app and the poller. */
export function createServices(
  config: Config,
  storage: Storage,
  adminToken: string,
  onJobQueued?: (job: JobItem) => void,
): Services {
  return {
    projects: new ProjectService(storage.control, storage.records, storage.objects, config.namePrefix),
    keys: new ApiKeyService(storage.control, config.keyCacheMs),
    records: new RecordService(storage.records, storage.control, {
      maxRecordsPerRequest: config.limits.maxRecordsPerRequest,
      maxJsonDepth: config.limits.maxJsonDepth,
    }),
    cursors: new CursorCodec(adminToken),
    uploads: new FileUploadService(storage.objects, storage.control, config.limits.maxFileBytes, onJobQueued),
  };
}
