import { describe, expect, it } from 'vitest';
import { ApiKeyService } from '../../src/domain/api-keys.service.js';
import { AuthService, type ProjectDecision } from '../../src/domain/auth.service.js';
import type { ApiKeyItem, ProjectItem } from '../../src/domain/model.js';
import type { ProjectService } from '../../src/domain/projects.service.js';
import { errors } from '../../src/errors.js';
import type { ControlStore } from '../../src/storage/ports.js';

const ADMIN = 'admin-token-for-the-auth-service-test';

/** Keys in memory; the control store itself is covered by the contract suite. */
function keyStore(): ControlStore {
  const items = new Map<string, ApiKeyItem>();
  return {
    createKey: async (key: ApiKeyItem) => void items.set(key.id, key),
    getKey: async (id: string) => items.get(id) ?? null,
  } as unknown as ControlStore;
}

function projectsOf(...projects: ProjectItem[]): ProjectService {
  return {
    get: async (id: string) => {
      const project = projects.find((p) => p.id === id);
      if (!project) throw errors.projectNotFound(id);
      return project;
    },
  } as unknown as ProjectService;
}

const project = (id: string, allowedIps?: string[]): ProjectItem => ({
  id,
  name: id,
  createdAt: '2026-01-01T00:00:00.000Z',
  tableName: `t-${id}`,
  bucketName: `b-${id}`,
  allowedIps,
});

async function setup() {
  const keys = new ApiKeyService(keyStore(), 0);
  const auth = new AuthService(ADMIN, keys, projectsOf(project('alpha', ['10.0.0.0/8']), project('beta')));
  const reader = await keys.issue('alpha', { name: 'reader', scopes: ['records:read'], allowedIps: ['10.1.0.0/16'] });
  return { auth, keys, reader };
}

function refusal(decision: ProjectDecision) {
  if (decision.ok) throw new Error('expected a refusal');
  return [decision.reason, decision.error.status, decision.error.code];
}

describe('AuthService', () => {
  it('lets the admin token in everywhere and refuses a missing or wrong one', async () => {
    const { auth } = await setup();
    expect(auth.authorizeAdmin(ADMIN)).toEqual({ ok: true, principal: { kind: 'admin', id: 'admin-token', name: 'Admin token', via: 'token' } });
    expect(auth.authorizeAdmin(undefined)).toMatchObject({ ok: false, reason: 'missing_admin_token' });
    expect(auth.authorizeAdmin('nope')).toMatchObject({ ok: false, reason: 'wrong_admin_token' });
    const decision = await auth.authorizeProject({ credential: ADMIN, clientIp: '192.0.2.1', projectId: 'beta', scopes: ['files:write'] });
    expect(decision).toMatchObject({ ok: true, principal: { kind: 'admin' }, project: { id: 'beta' } });
  });

  it('lets a key act on its own project, from an allowed address, with a fitting scope', async () => {
    const { auth, reader } = await setup();
    const decision = await auth.authorizeProject({ credential: reader.secret, clientIp: '10.1.2.3', projectId: 'alpha', scopes: ['records:read'] });
    expect(decision).toMatchObject({ ok: true, principal: { kind: 'key', key: { id: reader.item.id } }, project: { id: 'alpha' } });
  });

  it('refuses with the same statuses and codes as the API answers', async () => {
    const { auth, reader } = await setup();
    const ask = (over: Partial<Parameters<AuthService['authorizeProject']>[0]>) =>
      auth.authorizeProject({ credential: reader.secret, clientIp: '10.1.2.3', projectId: 'alpha', scopes: ['records:read'], ...over });
    expect(refusal(await ask({ credential: undefined }))).toEqual(['missing_credential', 401, 'unauthenticated']);
    expect(refusal(await ask({ credential: `${reader.secret.slice(0, -1)}x` }))).toEqual(['invalid_key', 401, 'unauthenticated']);
    expect(refusal(await ask({ projectId: 'beta' }))).toEqual(['other_project', 403, 'key_not_for_project']);
    // Inside the project's list but outside the key's own.
    expect(refusal(await ask({ clientIp: '10.2.0.1' }))).toEqual(['ip_not_allowed', 403, 'ip_not_allowed']);
    expect(refusal(await ask({ clientIp: undefined }))).toEqual(['ip_not_allowed', 403, 'ip_not_allowed']);
    expect(refusal(await ask({ scopes: ['records:write', 'files:write'] }))).toEqual(['insufficient_scope', 403, 'insufficient_scope']);
  });

  it('names the key of a refused request but never carries its secret', async () => {
    const { auth, reader } = await setup();
    const decision = await auth.authorizeProject({ credential: reader.secret, clientIp: '10.1.2.3', projectId: 'beta', scopes: ['records:read'] });
    expect(decision).toMatchObject({ ok: false, keyId: reader.item.id, principal: { kind: 'key' } });
    expect(JSON.stringify({ ...decision, error: undefined })).not.toContain(reader.secret.slice('ik_'.length + 17));
  });

  it('throws what is not a refusal: an unknown project for the admin', async () => {
    const { auth } = await setup();
    await expect(auth.authorizeProject({ credential: ADMIN, clientIp: undefined, projectId: 'gamma', scopes: ['records:read'] })).rejects.toMatchObject({
      code: 'project_not_found',
    });
  });
});
