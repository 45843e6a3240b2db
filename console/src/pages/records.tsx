import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, formatTime, projectPath, type ApiError } from '../api';
import { asApiError, ErrorBox, Json, NotFound, useLoad } from '../components';

export interface StoredRecord {
  id: string;
  data: Record<string, unknown>;
  source?: unknown;
  ingestedAt?: string;
  provenance?: unknown;
}

interface Model {
  key: { fields: string[] } | null;
  indexes: string[];
}

const PAGE_SIZE = 100;

/** A cell as text: strings as they are, anything else as JSON. Never markup. */
function cellText(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function RecordsPage({ projectId, recordId }: { projectId: string; recordId?: string }) {
  const project = useLoad(() => api('GET', projectPath(projectId)), [projectId]);
  if (project.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;
  if (recordId !== undefined) return <RecordDetail projectId={projectId} recordId={recordId} />;
  return <RecordTable projectId={projectId} />;
}

function RecordTable({ projectId }: { projectId: string }) {
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [query, setQuery] = useState('');
  const cursor = cursors[cursors.length - 1] ?? null;
  const model = useLoad(() => api<Model>('GET', projectPath(projectId, '/model')), [projectId]);
  const page = useLoad(() => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) params.set('cursor', cursor);
    return api<{ items: StoredRecord[]; nextCursor: string | null }>('GET', projectPath(projectId, `/records?${params}${query}`));
  }, [projectId, cursor, query]);
  const fields = useMemo(() => {
    const seen = new Set<string>();
    for (const record of page.data?.items ?? []) for (const field of Object.keys(record.data)) seen.add(field);
    return [...seen];
  }, [page.data]);
  const [columns, setColumns] = useState<string[]>();
  const shown = columns ?? fields.slice(0, 6);

  useEffect(() => {
    if (page.data) performance.mark('records-rendered');
  }, [page.data]);

  return (
    <section aria-labelledby="records-title">
      <h1 id="records-title">Records</h1>
      <Lookups
        projectId={projectId}
        model={model.data}
        onIndexQuery={(suffix) => {
          setCursors([null]);
          setQuery(suffix);
        }}
      />
      {fields.length > 0 && (
        <fieldset className="columns">
          <legend>Columns</legend>
          {fields.map((field) => (
            <label key={field} className="check">
              <input
                type="checkbox"
                checked={shown.includes(field)}
                onChange={(e) => setColumns(e.target.checked ? [...shown, field] : shown.filter((c) => c !== field))}
              />{' '}
              {field}
            </label>
          ))}
        </fieldset>
      )}
      <ErrorBox error={page.error} />
      {page.data && (
        <>
          <table className="records" data-testid="records-table">
            <thead>
              <tr>
                <th scope="col">Id</th>
                {shown.map((field) => (
                  <th scope="col" key={field}>
                    {field}
                  </th>
                ))}
                <th scope="col">Ingested</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((record) => (
                <tr key={record.id}>
                  <td>
                    <Link href={`/projects/${encodeURIComponent(projectId)}/records/${encodeURIComponent(record.id)}`}>{record.id}</Link>
                  </td>
                  {shown.map((field) => (
                    <td key={field}>{cellText(record.data[field])}</td>
                  ))}
                  <td>{formatTime(record.ingestedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </button>
            <span>Page {cursors.length}</span>
            <button
              type="button"
              disabled={!page.data.nextCursor}
              onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}
            >
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}

function Lookups({ projectId, model, onIndexQuery }: { projectId: string; model?: Model | undefined; onIndexQuery: (suffix: string) => void }) {
  const [keyValues, setKeyValues] = useState<Record<string, string>>({});
  const [found, setFound] = useState<StoredRecord>();
  const [error, setError] = useState<ApiError>();
  const [index, setIndex] = useState('');
  const [value, setValue] = useState('');
  if (!model || (!model.key && model.indexes.length === 0)) return null;

  const byKey = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setFound(undefined);
    try {
      const params = new URLSearchParams(keyValues);
      params.set('provenance', 'true');
      setFound(await api<StoredRecord>('GET', projectPath(projectId, `/records/by-key?${params}`)));
    } catch (caught) {
      setError(asApiError(caught));
    }
  };
  const byIndex = (event: FormEvent) => {
    event.preventDefault();
    const field = index || model.indexes[0];
    onIndexQuery(field && value ? `&${new URLSearchParams({ [`where.${field}`]: value })}` : '');
  };

  return (
    <div className="lookups">
      {model.key && (
        <form onSubmit={byKey} className="inline">
          <h2>Find by key</h2>
          {model.key.fields.map((field) => (
            <label key={field}>
              {field}{' '}
              <input value={keyValues[field] ?? ''} onChange={(e) => setKeyValues({ ...keyValues, [field]: e.target.value })} />
            </label>
          ))}
          <button type="submit">Find</button>
        </form>
      )}
      {model.indexes.length > 0 && (
        <form onSubmit={byIndex} className="inline">
          <h2>Filter by indexed field</h2>
          <label>
            Field{' '}
            <select value={index} onChange={(e) => setIndex(e.target.value)}>
              {model.indexes.map((field) => (
                <option key={field}>{field}</option>
              ))}
            </select>
          </label>
          <label>
            Value <input value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
          <button type="submit">Filter</button>
        </form>
      )}
      <ErrorBox error={error} />
      {found && <Json value={found} />}
    </div>
  );
}

function RecordDetail({ projectId, recordId }: { projectId: string; recordId: string }) {
  const record = useLoad(
    () => api<StoredRecord>('GET', projectPath(projectId, `/records/${encodeURIComponent(recordId)}?provenance=true`)).catch((error: unknown) => {
      // Projects without a customer key have no provenance to add; ask again plainly.
      if ((error as ApiError).status === 400) return api<StoredRecord>('GET', projectPath(projectId, `/records/${encodeURIComponent(recordId)}`));
      throw error;
    }),
    [projectId, recordId],
  );
  if (record.error?.status === 404) return <NotFound what={`There is no record ${recordId} in project ${projectId}.`} />;
  return (
    <section aria-labelledby="record-title">
      <h1 id="record-title">Record {recordId}</h1>
      <p>
        <Link href={`/projects/${encodeURIComponent(projectId)}/records`}>Back to the records</Link>
      </p>
      <ErrorBox error={record.error} />
      {record.data && (
        <>
          <h2>Data</h2>
          <Json value={record.data.data} />
          <h2>Source</h2>
          <Json value={record.data.source} />
          {record.data.provenance !== undefined && (
            <>
              <h2>Provenance</h2>
              <Json value={record.data.provenance} />
            </>
          )}
          <p>Ingested {formatTime(record.data.ingestedAt)}</p>
        </>
      )}
    </section>
  );
}
