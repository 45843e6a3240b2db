import { keyStatus } from '../../domain/api-keys.service.js';
import type { ApiKeyItem, JobItem, ProjectItem } from '../../domain/model.js';
import { modelRules, modelSchema, type StoredModel } from '../../domain/record-model.js';

export function projectView(p: ProjectItem) {
  return {
    id: p.id,
    name: p.name,
    allowedIps: p.allowedIps ?? [],
    createdAt: p.createdAt,
    tableName: p.tableName,
    bucketName: p.bucketName,
  };
}

/** A project being deleted, with its deletion job's progress when the job is at hand. */
export function deletingProjectView(p: ProjectItem, job: JobItem | undefined) {
  return {
    ...projectView(p),
    deletion: {
      jobId: p.deletion?.jobId ?? job?.id ?? null,
      requestedAt: p.deletion?.requestedAt ?? null,
      status: job?.status ?? 'queued',
      objectsDeleted: job?.rowsRead ?? 0,
    },
  };
}

/** A key as the admin API shows it: never its hash; the secret only once, added by the issuing route. */
export function keyView(k: ApiKeyItem) {
  return {
    id: k.id,
    projectId: k.projectId,
    name: k.name,
    scopes: k.scopes,
    allowedIps: k.allowedIps ?? [],
    rateLimit: k.rateLimit ?? null,
    expiresAt: k.expiresAt ?? null,
    revokedAt: k.revokedAt ?? null,
    createdAt: k.createdAt,
    status: keyStatus(k),
  };
}

/** The record model as the admin API shows it; `version` 0 means no model was ever set. */
export function modelView(m: StoredModel) {
  return {
    key: m.key ?? null,
    merge: m.merge,
    indexes: m.indexes,
    // The data-quality parts only when set, so a model without them reads as before; the
    // project's hash secret is never shown.
    ...(m.rulesJson === undefined ? {} : { rules: modelRules(m) }),
    ...(m.schemaJson === undefined ? {} : { schema: modelSchema(m) }),
    ...(m.onInvalid === undefined ? {} : { onInvalid: m.onInvalid }),
    ...(m.driftAlerts === true ? { driftAlerts: true } : {}),
    version: m.version,
    updatedAt: m.updatedAt === '' ? null : m.updatedAt,
  };
}
