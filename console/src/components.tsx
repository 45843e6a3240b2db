import { useEffect, useState, type ReactNode } from 'react';
import { Link } from 'wouter';
import { ApiError, type FieldIssue } from './api';

/** Loads `load()` on mount and whenever `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: ApiError; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error: asApiError(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, 'client_error', String(error));
}

export function ErrorBox({ error }: { error?: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message} <code>{error.code}</code>
    </p>
  );
}

/** The messages of a validation error that belong to one field, shown next to it. */
export function fieldMessages(error: ApiError | undefined, field: string): string[] {
  if (!error) return [];
  return error.details
    .filter((issue: FieldIssue) => issue.path === field || issue.path.startsWith(`${field}.`))
    .map((issue) => issue.message);
}

export function Field(props: { id: string; label: string; error?: ApiError | undefined; name?: string; hint?: string; children: ReactNode }) {
  const messages = fieldMessages(props.error, props.name ?? props.id);
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
      {messages.map((message) => (
        <small key={message} className="field-error" role="alert">
          {message}
        </small>
      ))}
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard.writeText(text).then(() => setCopied(true));
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section className="not-found" aria-labelledby="not-found-title">
      <h1 id="not-found-title">Not found</h1>
      <p>{what}</p>
      <p>
        <Link href="/">Back to the overview</Link>
      </p>
    </section>
  );
}

export function Json({ value }: { value: unknown }) {
  // Text only: React escapes it, so data never becomes markup. Focusable, so a keyboard can
  // scroll it when it is taller than its box.
  return (
    <pre className="json" tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function parseList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
