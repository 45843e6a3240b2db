import { useEffect, useState, type FormEvent } from 'react';
import { api, formatTime, projectPath, type ApiError } from '../api';
import { asApiError, ErrorBox, Field, Json, NotFound, parseList, useLoad } from '../components';
import type { Job } from './jobs';

interface RecordModel {
  key: { fields: string[]; normalize?: Record<string, string[]> } | null;
  merge: 'merge' | 'replace' | 'first';
  indexes: string[];
  rules?: unknown[];
  schema?: unknown;
  onInvalid?: 'reject' | 'quarantine';
  version: number;
}

interface QuarantineEntry {
  id: string;
  jobId?: string;
  raw: string;
  reason: { code: string; message: string };
  createdAt: string;
}

export function ModelPage({ projectId }: { projectId: string }) {
  const model = useLoad(() => api<RecordModel>('GET', projectPath(projectId, '/model')), [projectId]);
  if (model.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;
  return (
    <section aria-labelledby="model-title">
      <h1 id="model-title">Record model, rules and quarantine</h1>
      <ErrorBox error={model.error} />
      {model.data && <ModelForm projectId={projectId} model={model.data} onSaved={model.reload} />}
      <Quarantine projectId={projectId} />
    </section>
  );
}

function parseJson(text: string, field: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw { path: field, message: 'must be valid JSON' };
  }
}

function ModelForm({ projectId, model, onSaved }: { projectId: string; model: RecordModel; onSaved: () => void }) {
  const [keyFields, setKeyFields] = useState(model.key?.fields.join(', ') ?? '');
  const [merge, setMerge] = useState(model.merge);
  const [indexes, setIndexes] = useState(model.indexes.join(', '));
  const [rules, setRules] = useState(model.rules ? JSON.stringify(model.rules, null, 2) : '');
  const [schema, setSchema] = useState(model.schema ? JSON.stringify(model.schema, null, 2) : '');
  const [onInvalid, setOnInvalid] = useState(model.onInvalid ?? 'reject');
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState<string>();
  const [fileId, setFileId] = useState('');
  const [preview, setPreview] = useState<unknown>();
  const jobs = useLoad(() => api<{ items: Job[] }>('GET', projectPath(projectId, '/jobs?limit=50')), [projectId]);

  const draft = (): Record<string, unknown> => {
    const body: Record<string, unknown> = { merge, indexes: parseList(indexes), onInvalid };
    const fields = parseList(keyFields);
    if (fields.length > 0) body.key = { fields, ...(model.key?.normalize ? { normalize: model.key.normalize } : {}) };
    const parsedRules = parseJson(rules, 'rules');
    if (parsedRules !== undefined) body.rules = parsedRules;
    const parsedSchema = parseJson(schema, 'schema');
    if (parsedSchema !== undefined) body.schema = parsedSchema;
    return body;
  };
  const run = async (action: () => Promise<void>) => {
    setError(undefined);
    setSaved(undefined);
    try {
      await action();
    } catch (caught) {
      const local = caught as { path?: string; message?: string };
      if (typeof local.path === 'string') {
        setError(asApiError({ name: 'ApiError', status: 400, code: 'validation_failed', message: 'The model is invalid.', details: [local] }));
      } else setError(asApiError(caught));
    }
  };
  const save = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const answer = await api<RecordModel>('PUT', projectPath(projectId, '/model'), { ...draft(), version: model.version });
      setSaved(`Saved as version ${answer.version}.`);
      onSaved();
    });
  };
  const tryIt = () =>
    void run(async () => {
      if (fileId === '') throw { path: 'fileId', message: 'choose a file to preview against' };
      setPreview(await api('POST', projectPath(projectId, '/model/preview'), { fileId, limit: 20, model: draft() }));
    });

  return (
    <form onSubmit={save} className="form">
      <h2>Model (version {model.version})</h2>
      <Field id="model-key" name="key" label="Customer key fields" hint="Comma separated dot paths; empty: records are appended" error={error}>
        <input id="model-key" value={keyFields} onChange={(e) => setKeyFields(e.target.value)} />
      </Field>
      <Field id="model-merge" name="merge" label="Merge policy" error={error}>
        <select id="model-merge" value={merge} onChange={(e) => setMerge(e.target.value as RecordModel['merge'])}>
          <option value="merge">merge: newer fields win</option>
          <option value="replace">replace: newer write wins whole</option>
          <option value="first">first: first write wins</option>
        </select>
      </Field>
      <Field id="model-indexes" name="indexes" label="Indexes" hint="Comma separated fields" error={error}>
        <input id="model-indexes" value={indexes} onChange={(e) => setIndexes(e.target.value)} />
      </Field>
      <Field id="model-rules" name="rules" label="Cleaning rules (JSON array)" error={error}>
        <textarea id="model-rules" rows={6} value={rules} onChange={(e) => setRules(e.target.value)} />
      </Field>
      <Field id="model-schema" name="schema" label="JSON Schema contract (JSON)" error={error}>
        <textarea id="model-schema" rows={6} value={schema} onChange={(e) => setSchema(e.target.value)} />
      </Field>
      <Field id="model-oninvalid" name="onInvalid" label="A schema violation" error={error}>
        <select id="model-oninvalid" value={onInvalid} onChange={(e) => setOnInvalid(e.target.value as 'reject' | 'quarantine')}>
          <option value="reject">rejects the row</option>
          <option value="quarantine">sends the row to quarantine</option>
        </select>
      </Field>
      <ErrorBox error={error} />
      {saved && <p role="status">{saved}</p>}
      <button type="submit">Save model</button>
      <h2>Preview against a file</h2>
      <Field id="preview-file" name="fileId" label="File" error={error}>
        <select id="preview-file" value={fileId} onChange={(e) => setFileId(e.target.value)}>
          <option value="">choose an uploaded file</option>
          {(jobs.data?.items ?? [])
            .filter((job) => job.fileId)
            .map((job) => (
              <option key={job.id} value={job.fileId}>
                {job.fileName} ({formatTime(job.createdAt)})
              </option>
            ))}
        </select>
      </Field>
      <button type="button" onClick={tryIt}>
        Preview first rows
      </button>
      {preview !== undefined && <Json value={preview} />}
    </form>
  );
}

function Quarantine({ projectId }: { projectId: string }) {
  const entries = useLoad(() => api<{ items: QuarantineEntry[] }>('GET', projectPath(projectId, '/quarantine?limit=100')), [projectId]);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<ApiError>();
  useEffect(() => setMessage(undefined), [projectId]);
  const replay = async () => {
    setError(undefined);
    try {
      const job = await api<Job>('POST', projectPath(projectId, '/quarantine/replay'), {});
      setMessage(`Replay started as job ${job.id}.`);
      entries.reload();
    } catch (caught) {
      setError(asApiError(caught));
    }
  };
  return (
    <>
      <h2>Quarantine</h2>
      <ErrorBox error={entries.error ?? error} />
      {message && <p role="status">{message}</p>}
      {entries.data && entries.data.items.length === 0 && <p>Nothing in quarantine.</p>}
      {entries.data && entries.data.items.length > 0 && (
        <>
          <button type="button" onClick={() => void replay()}>
            Replay all with the current model
          </button>
          <table>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col">Row</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {entries.data.items.map((entry) => (
                <tr key={entry.id}>
                  <td>
                    <code>{entry.reason.code}</code> {entry.reason.message}
                  </td>
                  <td>
                    <code>{entry.raw}</code>
                  </td>
                  <td>{formatTime(entry.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}
