import type { ApiKeyItem, ProjectItem } from '../domain/model.js';

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
