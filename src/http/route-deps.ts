import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import type { ApiKeyService } from '../domain/api-keys.service.js';
import type { CursorCodec } from '../domain/cursor.js';
import type { FileUploadService } from '../ingest/file-upload.service.js';
import type { ProjectService } from '../domain/projects.service.js';
import type { RecordService } from '../domain/records.service.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Storage } from '../storage/ports.js';
import type { createAuth } from './middleware/auth.js';

export interface Lifecycle {
  /** False once shutdown has begun: /readyz answers 503 so the load balancer drains this task. */
  accepting(): boolean;
}

export interface RouteDeps {
  config: Config;
  storage: Storage;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  projects: ProjectService;
  keys: ApiKeyService;
  records: RecordService;
  uploads: FileUploadService;
  cursors: CursorCodec;
  auth: ReturnType<typeof createAuth>;
  audit: (req: Request, res: Response, action: string, details: Record<string, unknown>) => void;
}
