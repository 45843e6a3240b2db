import { useState, type FormEvent } from 'react';
import { api, formatTime, projectPath, type ApiError } from '../api';
import { asApiError, CopyButton, ErrorBox, Field, NotFound, parseList, useLoad } from '../components';

const SCOPES = ['records:write', 'records:read', 'files:write'] as const;

interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  allowedIps: string[];
  rateLimit: { requests: number; windowSeconds: number } | null;
  expiresAt: string | null;
  revokedAt: string | null;
  createdAt: string;
  lastUsedAt?: string | null;
  status: 'active' | 'revoked' | 'expired';
}

export function KeysPage({ projectId }: { projectId: string }) {
  const keys = useLoad(() => api<{ items: ApiKey[] }>('GET', projectPath(projectId, '/keys')), [projectId]);
  const [created, setCreated] = useState<ApiKey & { key: string }>();
  const [revokeError, setRevokeError] = useState<ApiError>();
  if (keys.error?.status === 404) return <NotFound what={`There is no project with the id ${projectId}.`} />;

  const revoke = async (key: ApiKey) => {
    setRevokeError(undefined);
    try {
      await api('DELETE', projectPath(projectId, `/keys/${encodeURIComponent(key.id)}`));
      keys.reload();
    } catch (caught) {
      setRevokeError(asApiError(caught));
    }
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      {created && <NewKey projectId={projectId} created={created} onDismiss={() => setCreated(undefined)} />}
      <CreateKey
        projectId={projectId}
        onCreated={(key) => {
          setCreated(key);
          keys.reload();
        }}
      />
      <h2>Keys</h2>
      <ErrorBox error={keys.error ?? revokeError} />
      {keys.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.items.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.id}</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{formatTime(key.createdAt)}</td>
                <td>{formatTime(key.lastUsedAt)}</td>
                <td>{formatTime(key.expiresAt)}</td>
                <td className={`status status-${key.status}`}>{key.status}</td>
                <td>
                  {key.status === 'active' && (
                    <button type="button" onClick={() => void revoke(key)} aria-label={`Revoke key ${key.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function NewKey({ projectId, created, onDismiss }: { projectId: string; created: { key: string; name: string }; onDismiss: () => void }) {
  const curl = `curl -s ${window.location.origin}/v1/projects/${projectId}/records -H "X-API-Key: ${created.key}"`;
  return (
    <div className="secret" role="region" aria-label="New key secret">
      <p>
        The secret of <strong>{created.name}</strong>, shown this once. Copy it now.
      </p>
      <p>
        <code className="key-secret">{created.key}</code> <CopyButton text={created.key} label="Copy key" />
      </p>
      <p>
        <code>{curl}</code> <CopyButton text={curl} label="Copy curl command" />
      </p>
      <button type="button" onClick={onDismiss}>
        Done
      </button>
    </div>
  );
}

function CreateKey({ projectId, onCreated }: { projectId: string; onCreated: (key: ApiKey & { key: string }) => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([...SCOPES]);
  const [ips, setIps] = useState('');
  const [requests, setRequests] = useState('');
  const [windowSeconds, setWindowSeconds] = useState('60');
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<ApiError>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    const body: Record<string, unknown> = { name, scopes, allowedIps: parseList(ips) };
    if (requests !== '') body.rateLimit = { requests: Number(requests), windowSeconds: Number(windowSeconds) };
    if (expires !== '') body.expiresAt = new Date(expires).toISOString();
    try {
      const key = await api<ApiKey & { key: string }>('POST', projectPath(projectId, '/keys'), body);
      setName('');
      onCreated(key);
    } catch (caught) {
      setError(asApiError(caught));
    }
  };

  return (
    <form onSubmit={submit} className="form">
      <h2>Create a key</h2>
      <Field id="key-name" name="name" label="Name" error={error}>
        <input id="key-name" required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className="check">
            <input
              type="checkbox"
              checked={scopes.includes(scope)}
              onChange={(e) => setScopes(e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))}
            />{' '}
            {scope}
          </label>
        ))}
        {error?.details.filter((d) => d.path.startsWith('scopes')).map((d) => (
          <small key={d.message} className="field-error" role="alert">
            {d.message}
          </small>
        ))}
      </fieldset>
      <Field id="key-ips" name="allowedIps" label="IP allowlist" hint="Comma separated; empty allows any address" error={error}>
        <input id="key-ips" value={ips} onChange={(e) => setIps(e.target.value)} />
      </Field>
      <Field id="key-requests" name="rateLimit" label="Rate limit: requests per window (empty: none)" error={error}>
        <input id="key-requests" type="number" min={1} value={requests} onChange={(e) => setRequests(e.target.value)} />
      </Field>
      <Field id="key-window" name="rateLimit.windowSeconds" label="Window (seconds)" error={error}>
        <input id="key-window" type="number" min={1} value={windowSeconds} onChange={(e) => setWindowSeconds(e.target.value)} />
      </Field>
      <Field id="key-expires" name="expiresAt" label="Expires (empty: never)" error={error}>
        <input id="key-expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
      </Field>
      <ErrorBox error={error} />
      <button type="submit">Create key</button>
    </form>
  );
}
