import type { ApiKeyItem, ProjectItem } from '../storage/ports.js';

export type Principal = { kind: 'admin' } | { kind: 'key'; key: ApiKeyItem };

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      requestId: string;
      principal?: Principal;
      project?: ProjectItem;
      projectId?: string;
    }
  }
}
