import { useState, type FormEvent } from 'react';
import { Link, useLocation } from 'wouter';
import { api, projectPath, formatTime, type ApiError } from '../api';
import { asApiError, ErrorBox, Field, NotFound, parseList, useLoad } from '../components';

export interface Project {
  id: string;
  name: string;
  allowedIps: string[];
  createdAt: string;
  tableName?: string;
  bucketName?: string;
  deletion?: unknown;
}

export function ProjectsPage() {
  const list = useLoad(() => api<{ items: Project[] }>('GET', '/v1/projects?limit=100'), []);
  const [, navigate] = useLocation();
  const [form, setForm] = useState({ id: '', name: '', allowedIps: '' });
  const [error, setError] = useState<ApiError>();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const allowedIps = parseList(form.allowedIps);
      const project = await api<Project>('POST', '/v1/projects', { id: form.id, name: form.name });
      // Creation takes id and name; the allowlist is a setting, applied right after.
      if (allowedIps.length > 0) await api('PATCH', projectPath(project.id), { allowedIps });
      navigate(`/projects/${encodeURIComponent(project.id)}`);
    } catch (caught) {
      setError(asApiError(caught));
    }
  };

  return (
    <section aria-labelledby="projects-title">
      <h1 id="projects-title">Projects</h1>
      <ErrorBox error={list.error} />
      {list.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((project) => (
              <tr key={project.id}>
                <td>
                  <Link href={`/projects/${encodeURIComponent(project.id)}`}>{project.id}</Link>
                </td>
                <td>{project.name}</td>
                <td>{formatTime(project.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Create a project</h2>
      <form onSubmit={create} className="form">
        <Field id="project-id" name="id" label="Id" hint="3 to 40 characters: a-z, 0-9 and -" error={error}>
          <input id="project-id" required value={form.id} onChange={(e) => setForm({ ...form, id: e.target.value })} />
        </Field>
        <Field id="project-name" name="name" label="Name" error={error}>
          <input id="project-name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </Field>
        <Field id="project-ips" name="allowedIps" label="IP allowlist" hint="Addresses or CIDRs, comma separated; empty allows any" error={error}>
          <input id="project-ips" value={form.allowedIps} onChange={(e) => setForm({ ...form, allowedIps: e.target.value })} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit">Create project</button>
      </form>
    </section>
  );
}

export function ProjectPage({ projectId }: { projectId: string }) {
  const project = useLoad(() => api<Project>('GET', projectPath(projectId)), [projectId]);
  if (project.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;
  return (
    <section aria-labelledby="project-title">
      <h1 id="project-title">Project {projectId}</h1>
      <ErrorBox error={project.error} />
      {project.data && <ProjectSettings project={project.data} onSaved={project.reload} />}
      {project.data && <DeleteProject project={project.data} />}
    </section>
  );
}

function ProjectSettings({ project, onSaved }: { project: Project; onSaved: () => void }) {
  const [name, setName] = useState(project.name);
  const [ips, setIps] = useState(project.allowedIps.join(', '));
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState(false);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      await api('PATCH', projectPath(project.id), { name, allowedIps: parseList(ips) });
      setSaved(true);
      onSaved();
    } catch (caught) {
      setError(asApiError(caught));
    }
  };
  return (
    <>
      <dl className="facts">
        <dt>Created</dt>
        <dd>{formatTime(project.createdAt)}</dd>
        {project.tableName && (
          <>
            <dt>Table</dt>
            <dd>
              <code>{project.tableName}</code>
            </dd>
          </>
        )}
        {project.bucketName && (
          <>
            <dt>Bucket</dt>
            <dd>
              <code>{project.bucketName}</code>
            </dd>
          </>
        )}
      </dl>
      <h2>Settings</h2>
      <form onSubmit={save} className="form">
        <Field id="settings-name" name="name" label="Name" error={error}>
          <input id="settings-name" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="settings-ips" name="allowedIps" label="IP allowlist" hint="Comma separated; empty allows any address" error={error}>
          <input id="settings-ips" value={ips} onChange={(e) => setIps(e.target.value)} />
        </Field>
        <ErrorBox error={error} />
        {saved && <p role="status">Saved.</p>}
        <button type="submit">Save settings</button>
      </form>
    </>
  );
}

function DeleteProject({ project }: { project: Project }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<ApiError>();
  const [started, setStarted] = useState(false);
  const remove = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await api('DELETE', projectPath(project.id, `?confirm=${encodeURIComponent(typed)}`));
      setStarted(true);
    } catch (caught) {
      setError(asApiError(caught));
    }
  };
  return (
    <>
      <h2>Delete this project</h2>
      <p>Removes the project with its table, bucket, records, files, jobs and keys. This cannot be undone.</p>
      {started ? (
        <p role="status">Deletion started. The project disappears once its data is removed.</p>
      ) : (
        <form onSubmit={remove} className="form danger">
          <Field id="delete-confirm" label={`Type ${project.id} to confirm`}>
            <input id="delete-confirm" value={typed} autoComplete="off" onChange={(e) => setTyped(e.target.value)} />
          </Field>
          <ErrorBox error={error} />
          <button type="submit" className="danger" disabled={typed !== project.id}>
            Delete project
          </button>
        </form>
      )}
    </>
  );
}
