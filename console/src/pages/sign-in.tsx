import { useState, type FormEvent } from 'react';
import { api, type Session } from '../api';
import { asApiError, ErrorBox } from '../components';
import type { ApiError } from '../api';

export function SignInPage({ reason, onSignedIn }: { reason?: string | undefined; onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // The token is sent once and exchanged for an HttpOnly cookie; it is not kept anywhere.
      const session = await api<Session>('POST', '/v1/session', { token }, { signIn: true });
      setToken('');
      onSignedIn(session);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>Intake console</h1>
      {reason && <p className="notice">{reason}</p>}
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="token">Admin token</label>
          <input
            id="token"
            type="password"
            autoComplete="off"
            required
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
          <small>The token `npm start` printed, or INTAKE_ADMIN_TOKEN.</small>
        </div>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
