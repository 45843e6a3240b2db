import type { AppError } from '../errors.js';
import { errors, isAppError } from '../errors.js';
import { keyIdOf, secretMatcher, type ApiKeyService } from './api-keys.service.js';
import { addressAllowed } from './ip-allowlist.js';
import type { ApiKeyItem, ProjectItem, Scope } from './model.js';
import type { ProjectService } from './projects.service.js';
import { TOKEN_ADMIN, type AdminIdentity } from './session.service.js';

/** Who is calling: an admin (named, for audit events), or the holder of one API key. */
export type Principal = ({ kind: 'admin' } & AdminIdentity) | { kind: 'key'; key: ApiKeyItem };

/** Why a request was refused, as counted in metrics and written in the log. */
export type AuthFailureReason =
  | 'missing_admin_token'
  | 'wrong_admin_token'
  | 'missing_credential'
  | 'invalid_key'
  | 'other_project'
  | 'ip_not_allowed'
  | 'insufficient_scope'
  | 'invalid_session'
  | 'session_expired'
  | 'invalid_assertion'
  | 'admin_not_allowed';

export interface AuthRefusal {
  ok: false;
  reason: AuthFailureReason;
  /** What the caller is told: 401 or 403. */
  error: AppError;
  /** The public id of a key-shaped credential, for the log; never the secret. */
  keyId?: string;
  /** Why a zero-trust assertion was refused (the JOSE error code, or the identity not allowed), for the log. */
  detail?: string;
  /** The key, when it was valid but not allowed here (the request is still logged as its). */
  principal?: Principal;
}

export type AdminDecision = { ok: true; principal: Principal } | AuthRefusal;
export type ProjectDecision = { ok: true; principal: Principal; project: ProjectItem } | AuthRefusal;

export interface ProjectAccessRequest {
  /** The secret the caller presented (an API key or the admin token), if any. */
  credential: string | undefined;
  /** The client address, already resolved through the trusted proxy hops. */
  clientIp: string | undefined;
  projectId: string;
  /** Any one of them is enough. */
  scopes: readonly Scope[];
}

/**
 * The authorisation rules, in one place and free of HTTP: who may call admin routes, and
 * who may act on a project (its own keys, from an allowed address, with a fitting scope;
 * the admin everywhere). Fails closed: no credential, an unknown one or one for another
 * project is refused. A refusal is returned, not thrown, so the caller can count and log
 * it before answering; storage failures and unknown projects are thrown as usual.
 */
export class AuthService {
  private readonly isAdminToken: (presented: string) => boolean;

  constructor(
    adminToken: string,
    private readonly keys: ApiKeyService,
    private readonly projects: ProjectService,
  ) {
    this.isAdminToken = secretMatcher(adminToken);
  }

  authorizeAdmin(token: string | undefined): AdminDecision {
    if (token === undefined) return { ok: false, reason: 'missing_admin_token', error: errors.adminRequired() };
    if (!this.isAdminToken(token)) return { ok: false, reason: 'wrong_admin_token', error: errors.adminRequired() };
    return { ok: true, principal: { kind: 'admin', ...TOKEN_ADMIN } };
  }

  /** An admin already identified by a session or a zero-trust assertion acts on any project. */
  async adminOnProject(admin: AdminIdentity, projectId: string): Promise<ProjectDecision> {
    return { ok: true, principal: { kind: 'admin', ...admin }, project: await this.projects.get(projectId) };
  }

  async authorizeProject(request: ProjectAccessRequest): Promise<ProjectDecision> {
    const { credential, projectId } = request;
    if (credential === undefined) {
      return { ok: false, reason: 'missing_credential', error: errors.unauthenticated() };
    }
    if (this.isAdminToken(credential)) {
      return this.adminOnProject(TOKEN_ADMIN, projectId);
    }
    const keyId = keyIdOf(credential);
    let key: ApiKeyItem;
    try {
      key = await this.keys.verify(credential);
    } catch (error) {
      if (isAppError(error) && error.status === 401) return { ok: false, reason: 'invalid_key', error, keyId };
      throw error;
    }
    const principal: Principal = { kind: 'key', key };
    const refuse = (reason: AuthFailureReason, error: AppError): AuthRefusal => ({ ok: false, reason, error, keyId, principal });
    if (key.projectId !== projectId) return refuse('other_project', errors.keyNotForProject());
    // The project's allowlist applies to all its keys; a key's own list narrows it further.
    const project = await this.projects.get(projectId);
    for (const allowed of [project.allowedIps, key.allowedIps]) {
      if (allowed !== undefined && allowed.length > 0 && !addressAllowed(request.clientIp, allowed)) {
        return refuse('ip_not_allowed', errors.ipNotAllowed());
      }
    }
    if (!request.scopes.some((scope) => key.scopes.includes(scope))) {
      return refuse('insufficient_scope', errors.insufficientScope(request.scopes.join(' or ')));
    }
    return { ok: true, principal, project };
  }
}
