import type { Principal } from '../domain/auth.service.js';
import type { ProjectItem } from '../domain/model.js';
import type { AmbientAdmin } from './middleware/auth.js';

export type { Principal };

declare global {
  namespace Express {
    interface Locals {
      requestId: string;
      principal?: Principal;
      project?: ProjectItem;
      projectId?: string;
      /** Set when a session cookie or a zero-trust assertion authenticated the request. */
      ambientAdmin?: AmbientAdmin;
    }
  }
}
