import { assertDisplayName } from './display-names.js';
import { errors } from '../errors.js';
import { storageNames } from '../storage/names.js';
import { LruCache } from './lru-cache.js';
import type { ProjectItem } from './model.js';
import type { ControlStore, ObjectStore, Page, RecordStore } from '../storage/ports.js';

export const PROJECT_ID_PATTERN = /^[a-z0-9-]{3,40}$/;
/** How long a task may serve a project as read: a change of its record model reaches every task within this. */
export const PROJECT_CACHE_MS = 5_000;
const CACHE_MAX_ENTRIES = 10_000;

export function assertProjectId(id: string): void {
  if (!PROJECT_ID_PATTERN.test(id)) throw errors.invalidProjectId(id);
}

/**
 * Projects and their own storage: creating a project creates its records table and its
 * bucket first (both idempotent), then claims the id, so a crash in between leaves
 * nothing a retry cannot finish.
 */
export class ProjectService {
  private readonly names;
  private readonly cache: LruCache<string, ProjectItem>;

  constructor(
    private readonly control: ControlStore,
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    namePrefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.names = storageNames(namePrefix);
    this.cache = new LruCache({ maxEntries: CACHE_MAX_ENTRIES, ttlMs: PROJECT_CACHE_MS, now });
  }

  async create(input: { id: string; name: string; allowedIps?: string[] }): Promise<ProjectItem> {
    assertProjectId(input.id);
    assertDisplayName('name', input.name);
    const existing = await this.control.getProject(input.id);
    // A deleted project's id is free once its deletion job has removed everything.
    if (existing?.deletion !== undefined) throw errors.projectDeleting(input.id);
    if (existing) throw errors.projectExists(input.id);
    const project: ProjectItem = {
      id: input.id,
      name: input.name,
      createdAt: new Date(this.now()).toISOString(),
      tableName: this.names.recordsTable(input.id),
      bucketName: this.names.bucket(input.id),
      allowedIps: input.allowedIps !== undefined && input.allowedIps.length > 0 ? input.allowedIps : undefined,
    };
    await this.records.ensureTable(project.tableName);
    await this.objects.ensureBucket(project.bucketName);
    await this.control.createProject(project);
    return project;
  }

  /**
   * A short cache spares a read per request. The record model, the name, the allowlist and
   * the deletion mark change: this task forgets the project when it changes it, other tasks
   * see the change within PROJECT_CACHE_MS (a deletion waits that long before it answers).
   * A project being deleted is refused with 409 project_deleting.
   */
  async get(id: string): Promise<ProjectItem> {
    const project = await this.describe(id);
    if (project.deletion !== undefined) throw errors.projectDeleting(id);
    return project;
  }

  /** The project even while it is being deleted (for the admin's read of its progress). */
  async describe(id: string): Promise<ProjectItem> {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    if (!PROJECT_ID_PATTERN.test(id)) throw errors.projectNotFound(id.slice(0, 60));
    const project = await this.control.getProject(id);
    if (!project) throw errors.projectNotFound(id);
    this.cache.set(id, project);
    return project;
  }

  /**
   * Renames a project or replaces its allowlist (an empty list clears it), with the rules of
   * creation. Other tasks apply the change within PROJECT_CACHE_MS.
   */
  async update(id: string, changes: { name?: string; allowedIps?: string[] }): Promise<ProjectItem> {
    if (changes.name !== undefined) assertDisplayName('name', changes.name);
    const current = await this.fresh(id);
    const updated = await this.control.updateProject(current.id, changes);
    this.cache.delete(id);
    if (updated) return updated;
    // Gone or marked deleting since the read: say which.
    return this.fresh(id);
  }

  /** The project as stored now, past the cache (for changes that must start from the latest); refused while deleting. */
  async fresh(id: string): Promise<ProjectItem> {
    this.cache.delete(id);
    return this.get(id);
  }

  forget(id: string): void {
    this.cache.delete(id);
  }

  async list(limit: number, after?: string): Promise<Page<ProjectItem>> {
    return this.control.listProjects({ limit, after });
  }

  /** Every project, page by page (for the poller). */
  async *all(): AsyncIterable<ProjectItem> {
    let after: string | undefined;
    do {
      const page = await this.control.listProjects({ limit: 100, after });
      yield* page.items;
      after = page.next;
    } while (after !== undefined);
  }
}
