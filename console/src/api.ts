// The console is a client of the public REST API only: everything here is a plain HTTP call
// that curl could make. The session cookie is HttpOnly and rides along by itself; the CSRF
// token lives in memory only (never in browser storage) and goes on every state change.

export interface Admin {
  id: string;
  name: string;
  via: 'token' | 'cloudflare-access' | 'alb-oidc';
}

export interface Session {
  admin: Admin;
  csrfToken: string;
  expiresAt: string;
}

export interface FieldIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldIssue[] = [],
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onUnauthenticated: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when any request answers 401: the session is gone, so the app returns to sign-in. */
export function whenUnauthenticated(callback: () => void): void {
  onUnauthenticated = callback;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function authHeaders(method: string): Record<string, string> {
  return STATE_CHANGING.has(method) && csrfToken !== undefined ? { 'X-CSRF-Token': csrfToken } : {};
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: FieldIssue[] } } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return new ApiError(
    response.status,
    body.error?.code ?? 'http_error',
    body.error?.message ?? `The server answered ${response.status}.`,
    Array.isArray(body.error?.details) ? body.error.details : [],
  );
}

export async function api<T>(method: string, path: string, body?: unknown, options: { signIn?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(method) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !options.signIn) onUnauthenticated?.();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const enc = encodeURIComponent;

export function projectPath(projectId: string, rest = ''): string {
  return `/v1/projects/${enc(projectId)}${rest}`;
}

export interface UploadProgress {
  loaded: number;
  total: number;
  bytesPerSecond: number;
  secondsLeft: number | undefined;
}

export interface UploadHandle {
  done: Promise<{ fileId: string; jobId: string; bytes: number }>;
  cancel(): void;
}

/**
 * Streams the file to PUT /files/{name}. XMLHttpRequest rather than fetch: only it reports
 * upload progress. The browser reads the File from disk as it sends, so any size works.
 */
export function uploadFile(projectId: string, file: File, onProgress: (progress: UploadProgress) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const started = performance.now();
  const done = new Promise<{ fileId: string; jobId: string; bytes: number }>((resolve, reject) => {
    xhr.open('PUT', projectPath(projectId, `/files/${enc(file.name)}`));
    xhr.withCredentials = true;
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    for (const [name, value] of Object.entries(authHeaders('PUT'))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? event.loaded / seconds : 0;
      onProgress({
        loaded: event.loaded,
        total: event.total || file.size,
        bytesPerSecond: rate,
        secondsLeft: rate > 0 ? (file.size - event.loaded) / rate : undefined,
      });
    };
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string } } & { fileId?: string; jobId?: string; bytes?: number } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // handled below
      }
      if (xhr.status >= 200 && xhr.status < 300 && body.jobId !== undefined) {
        resolve(body as { fileId: string; jobId: string; bytes: number });
      } else {
        if (xhr.status === 401) onUnauthenticated?.();
        reject(new ApiError(xhr.status, body.error?.code ?? 'http_error', body.error?.message ?? `The server answered ${xhr.status}.`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload failed: the connection was lost.'));
    xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'The upload was cancelled.'));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}
