import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import { api, formatBytes, formatTime, projectPath } from '../api';
import { ErrorBox, Json, NotFound, useLoad } from '../components';

export interface Job {
  id: string;
  fileId: string;
  fileName: string;
  status: 'queued' | 'running' | 'succeeded' | 'partial' | 'failed';
  format: string | null;
  bytesTotal: number;
  bytesRead: number;
  rowsRead: number;
  recordsWritten: number;
  rowsRejected: number;
  errors: Array<{ row: number; code: string; message: string }>;
  createdAt?: string;
  updatedAt?: string;
}

const FINISHED = new Set(['succeeded', 'partial', 'failed']);
const STATUSES = ['', 'queued', 'running', 'succeeded', 'partial', 'failed'];

export function isFinished(job: Job): boolean {
  return FINISHED.has(job.status);
}

export function JobsPage({ projectId, jobId }: { projectId: string; jobId?: string }) {
  if (jobId !== undefined) return <JobDetail projectId={projectId} jobId={jobId} />;
  return <JobList projectId={projectId} />;
}

function JobList({ projectId }: { projectId: string }) {
  const [status, setStatus] = useState('');
  const [name, setName] = useState('');
  const jobs = useLoad(() => api<{ items: Job[] }>('GET', projectPath(projectId, '/jobs?limit=100')), [projectId]);
  useEffect(() => {
    // Refresh while anything is still moving.
    if (!jobs.data?.items.some((job) => !isFinished(job))) return;
    const timer = setTimeout(jobs.reload, 1000);
    return () => clearTimeout(timer);
  }, [jobs.data, jobs.reload]);
  if (jobs.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;
  const shown = (jobs.data?.items ?? []).filter(
    (job) => (status === '' || job.status === status) && job.fileName.toLowerCase().includes(name.toLowerCase()),
  );
  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <div className="filters">
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === '' ? 'any' : s}
              </option>
            ))}
          </select>
        </label>
        <label>
          File name contains <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
      </div>
      <ErrorBox error={jobs.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Rows</th>
            <th scope="col">Written</th>
            <th scope="col">Rejected</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((job) => (
            <tr key={job.id}>
              <td>
                <Link href={`/projects/${encodeURIComponent(projectId)}/jobs/${encodeURIComponent(job.id)}`}>{job.fileName}</Link>
              </td>
              <td className={`status status-${job.status}`}>{job.status}</td>
              <td>
                <progress max={Math.max(1, job.bytesTotal)} value={isFinished(job) ? Math.max(1, job.bytesTotal) : job.bytesRead} aria-label={`Progress of ${job.fileName}`} />
              </td>
              <td className="num">{job.rowsRead.toLocaleString()}</td>
              <td className="num">{job.recordsWritten.toLocaleString()}</td>
              <td className="num">{job.rowsRejected.toLocaleString()}</td>
              <td>{formatTime(job.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Polls a job until it ends, with rows per second from consecutive readings. */
export function useLiveJob(projectId: string, jobId: string | undefined) {
  const [job, setJob] = useState<Job>();
  const [rate, setRate] = useState(0);
  const [missing, setMissing] = useState(false);
  const last = useRef<{ at: number; rows: number }>(undefined);
  useEffect(() => {
    if (jobId === undefined) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await api<Job>('GET', projectPath(projectId, `/jobs/${encodeURIComponent(jobId)}`));
        if (!live) return;
        const now = performance.now();
        if (last.current && now > last.current.at) setRate(((next.rowsRead - last.current.rows) * 1000) / (now - last.current.at));
        last.current = { at: now, rows: next.rowsRead };
        setJob(next);
        if (!isFinished(next)) timer = setTimeout(() => void poll(), 700);
      } catch {
        if (live) setMissing(true);
      }
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [projectId, jobId]);
  return { job, rate, missing };
}

export function JobProgress({ projectId, job, rate }: { projectId: string; job: Job; rate: number }) {
  const done = isFinished(job);
  return (
    <div className="job-progress" aria-live="polite">
      <p>
        Job <code>{job.id}</code>: <span className={`status status-${job.status}`}>{job.status}</span>
      </p>
      <progress max={Math.max(1, job.bytesTotal)} value={done ? Math.max(1, job.bytesTotal) : job.bytesRead} aria-label="Job progress" />
      <p>
        {job.rowsRead.toLocaleString()} rows read, {job.recordsWritten.toLocaleString()} written, {job.rowsRejected.toLocaleString()} rejected
        {!done && ` — ${Math.max(0, Math.round(rate)).toLocaleString()} rows/s`} ({formatBytes(job.bytesRead)} of {formatBytes(job.bytesTotal)})
      </p>
      {done && job.rowsRejected > 0 && (
        <p>
          <a href={projectPath(projectId, `/jobs/${encodeURIComponent(job.id)}/errors`)} download={`${job.id}-errors.ndjson`}>
            Download the error report
          </a>
        </p>
      )}
    </div>
  );
}

function JobDetail({ projectId, jobId }: { projectId: string; jobId: string }) {
  const { job, rate, missing } = useLiveJob(projectId, jobId);
  const project = useLoad(() => api('GET', projectPath(projectId)), [projectId]);
  if (project.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;
  if (missing && !job) return <NotFound what={`There is no job ${jobId} in project ${projectId}.`} />;
  return (
    <section aria-labelledby="job-title">
      <h1 id="job-title">Job {job?.fileName ?? jobId}</h1>
      <ErrorBox error={project.error} />
      {job && <JobProgress projectId={projectId} job={job} rate={rate} />}
      {job && job.errors.length > 0 && (
        <>
          <h2>Errors</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Row</th>
                <th scope="col">Code</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {job.errors.map((error, index) => (
                <tr key={index}>
                  <td className="num">{error.row}</td>
                  <td>
                    <code>{error.code}</code>
                  </td>
                  <td>{error.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {job && (
        <details>
          <summary>Full job</summary>
          <Json value={job} />
        </details>
      )}
    </section>
  );
}
