import { useEffect, useState, type FormEvent } from 'react';
import { api, formatBytes, formatTime, projectPath, type ApiError } from '../api';
import { asApiError, CopyButton, ErrorBox, Field, NotFound, parseList, useLoad } from '../components';

interface ExportJob {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  format: string;
  gzip: boolean;
  progress: { records: number; bytes: number; parts: number };
  parts: Array<{ name: string; records: number; bytes: number; url: string }>;
  manifest: string | null;
  failure: { code: string; message: string } | null;
  createdAt: string;
}

export function ExportsPage({ projectId }: { projectId: string }) {
  const list = useLoad(() => api<{ items: ExportJob[] }>('GET', projectPath(projectId, '/exports')), [projectId]);
  const [format, setFormat] = useState('ndjson');
  const [gzip, setGzip] = useState(false);
  const [since, setSince] = useState('');
  const [fields, setFields] = useState('');
  const [error, setError] = useState<ApiError>();
  useEffect(() => {
    if (!list.data?.items.some((job) => job.status === 'queued' || job.status === 'running')) return;
    const timer = setTimeout(list.reload, 1000);
    return () => clearTimeout(timer);
  }, [list.data, list.reload]);
  if (list.error?.status === 404 && list.error.code === 'project_not_found') {
    return <NotFound what={`There is no project with the id ${projectId}.`} />;
  }

  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    const body: Record<string, unknown> = { format, gzip };
    if (since !== '') body.since = new Date(since).toISOString();
    if (fields.trim() !== '') body.fields = parseList(fields);
    try {
      await api('POST', projectPath(projectId, '/exports'), body);
      list.reload();
    } catch (caught) {
      setError(asApiError(caught));
    }
  };
  const origin = window.location.origin;
  return (
    <section aria-labelledby="exports-title">
      <h1 id="exports-title">Exports</h1>
      <form onSubmit={start} className="form">
        <h2>Start an export</h2>
        <Field id="export-format" name="format" label="Format" error={error}>
          <select id="export-format" value={format} onChange={(e) => setFormat(e.target.value)}>
            <option value="ndjson">NDJSON</option>
            <option value="csv">CSV</option>
          </select>
        </Field>
        <label className="check">
          <input type="checkbox" checked={gzip} onChange={(e) => setGzip(e.target.checked)} /> gzip each part
        </label>
        <Field id="export-since" name="since" label="Only records written since (empty: all)" error={error}>
          <input id="export-since" type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </Field>
        <Field id="export-fields" name="fields" label="Fields (comma separated; empty: all)" error={error}>
          <input id="export-fields" value={fields} onChange={(e) => setFields(e.target.value)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit">Start export</button>
      </form>
      <h2>Export jobs</h2>
      <ErrorBox error={list.error} />
      {list.data?.items.map((job) => (
        <article key={job.id} className="export" aria-label={`Export ${job.id}`}>
          <h3>
            <code>{job.id}</code> <span className={`status status-${job.status}`}>{job.status}</span>
          </h3>
          <p>
            {job.format}
            {job.gzip ? ' (gzip)' : ''}, started {formatTime(job.createdAt)}: {job.progress.records.toLocaleString()} records in{' '}
            {job.progress.parts} parts, {formatBytes(job.progress.bytes)}
          </p>
          {job.failure && (
            <p className="error">
              {job.failure.message} <code>{job.failure.code}</code>
            </p>
          )}
          <ul>
            {job.parts.map((part) => {
              const path = projectPath(projectId, `/exports/${encodeURIComponent(job.id)}/files/${encodeURIComponent(part.name)}`);
              const curl = `curl -s -o ${part.name} ${origin}${path} -H "Authorization: Bearer $ADMIN"`;
              return (
                <li key={part.name}>
                  <a href={path} download={part.name}>
                    {part.name}
                  </a>{' '}
                  ({part.records.toLocaleString()} records, {formatBytes(part.bytes)}) <CopyButton text={curl} label={`Copy curl for ${part.name}`} />
                </li>
              );
            })}
          </ul>
        </article>
      ))}
    </section>
  );
}
