import { errors } from '../errors.js';
import type { JobItem, ProjectItem } from './model.js';
import type { ControlStore, Page } from '../storage/ports.js';

/** Job ids are 26-character ULIDs; anything far longer cannot exist and is not worth a read. */
const MAX_JOB_ID_LENGTH = 64;

/** The ingestion jobs of a project, as the API reads them. */
export class JobService {
  constructor(private readonly control: ControlStore) {}

  /** One page of the project's jobs; `after` continues from the previous page. */
  async list(project: ProjectItem, options: { limit: number; after?: string }): Promise<Page<JobItem>> {
    return this.control.listJobs(project.id, options);
  }

  /** The job, or 404 job_not_found. */
  async get(project: ProjectItem, jobId: string): Promise<JobItem> {
    const job = jobId.length <= MAX_JOB_ID_LENGTH ? await this.control.getJob(project.id, jobId) : null;
    if (!job) throw errors.jobNotFound(jobId);
    return job;
  }
}
