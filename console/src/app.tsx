import { useCallback, useEffect, useState } from 'react';
import { Link, Route, Router, Switch, useLocation } from 'wouter';
import { api, setCsrfToken, whenUnauthenticated, type Session } from './api';
import { NotFound } from './components';
import { ExportsPage } from './pages/exports';
import { JobsPage } from './pages/jobs';
import { KeysPage } from './pages/keys';
import { ModelPage } from './pages/model';
import { OverviewPage } from './pages/overview';
import { ProjectPage, ProjectsPage } from './pages/projects';
import { RecordsPage } from './pages/records';
import { SignInPage } from './pages/sign-in';
import { UploadPage } from './pages/upload';

type SessionState = { kind: 'checking' } | { kind: 'signed-out'; reason?: string } | { kind: 'signed-in'; session: Session };

export function App() {
  const [state, setState] = useState<SessionState>({ kind: 'checking' });

  const signedIn = useCallback((session: Session) => {
    setCsrfToken(session.csrfToken);
    setState({ kind: 'signed-in', session });
  }, []);

  useEffect(() => {
    // Any 401 means the session is gone (expired, revoked by a token rotation): drop what is
    // on screen and show the sign-in form.
    whenUnauthenticated(() => {
      setCsrfToken(undefined);
      setState({ kind: 'signed-out', reason: 'Your session has ended. Sign in again.' });
    });
    api<Session>('GET', '/v1/session', undefined, { signIn: true }).then(signedIn, () => setState({ kind: 'signed-out' }));
  }, [signedIn]);

  if (state.kind === 'checking') return <p className="loading">Loading…</p>;
  if (state.kind === 'signed-out') {
    return (
      <Router base="/console">
        <SignInPage reason={state.reason} onSignedIn={signedIn} />
      </Router>
    );
  }
  const signOut = async () => {
    await api('DELETE', '/v1/session', undefined, { signIn: true }).catch(() => undefined);
    setCsrfToken(undefined);
    setState({ kind: 'signed-out' });
  };
  return (
    <Router base="/console">
      <Shell session={state.session} onSignOut={signOut} />
    </Router>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [location] = useLocation();
  const project = /^\/projects\/([^/]+)/.exec(location)?.[1];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Intake</span>
        <nav aria-label="Main">
          <Link href="/">Overview</Link>
          <Link href="/projects">Projects</Link>
        </nav>
        <span className="who">
          {session.admin.name} <small>({session.admin.via})</small>
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {project && <ProjectNav projectId={decodeURIComponent(project)} />}
      <main id="main">
        <Switch>
          <Route path="/" component={OverviewPage} />
          <Route path="/projects" component={ProjectsPage} />
          <Route path="/projects/:id">{(params) => <ProjectPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/keys">{(params) => <KeysPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/upload">{(params) => <UploadPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/jobs">{(params) => <JobsPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/jobs/:jobId">{(params) => <JobsPage projectId={params.id} jobId={params.jobId} />}</Route>
          <Route path="/projects/:id/records">{(params) => <RecordsPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/records/:recordId">
            {(params) => <RecordsPage projectId={params.id} recordId={params.recordId} />}
          </Route>
          <Route path="/projects/:id/model">{(params) => <ModelPage projectId={params.id} />}</Route>
          <Route path="/projects/:id/exports">{(params) => <ExportsPage projectId={params.id} />}</Route>
          <Route>
            <NotFound what="There is no console page at this address." />
          </Route>
        </Switch>
      </main>
    </>
  );
}

function ProjectNav({ projectId }: { projectId: string }) {
  const base = `/projects/${encodeURIComponent(projectId)}`;
  const tabs: Array<[string, string]> = [
    ['', 'Settings'],
    ['/keys', 'Keys'],
    ['/upload', 'Upload'],
    ['/jobs', 'Jobs'],
    ['/records', 'Records'],
    ['/model', 'Model & quarantine'],
    ['/exports', 'Exports'],
  ];
  return (
    <nav className="tabs" aria-label={`Project ${projectId}`}>
      <span className="tabs-title">{projectId}</span>
      {tabs.map(([suffix, label]) => (
        <Link key={suffix} href={`${base}${suffix}`}>
          {label}
        </Link>
      ))}
    </nav>
  );
}
