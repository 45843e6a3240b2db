// The console's API on the real server, as a browser drives it over HTTP: sign in for a
// cookie, act with it and the CSRF token, and read the overview, whose alerts come from the
// server's own alerter (kept in the control store with no webhook configured).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer, type ServerProcess } from '../support/server-process.js';

describe('console API on the real server', () => {
  let server: ServerProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-console-e2e-'));
    server = await spawnServer({
      env: { INTAKE_DATA_DIR: dataDir, INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN, INTAKE_POLL_INTERVAL_MS: '200', INTAKE_POLL_SETTLE_MS: '200' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('signs in, creates a project and uploads with the session, and shows ingest and a failed job on the overview', async () => {
    const signIn = await fetch(`${server.baseUrl}/v1/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: E2E_ADMIN_TOKEN }),
    });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const asConsole = { Cookie: cookie, 'X-CSRF-Token': csrfToken };

    const id = `console-e2e-${process.pid}`;
    const created = await fetch(`${server.baseUrl}/v1/projects`, {
      method: 'POST',
      headers: { ...asConsole, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id, name: 'Console e2e' }),
    });
    expect(created.status).toBe(201);
    const pushed = await fetch(`${server.baseUrl}/v1/projects/${id}/records`, {
      method: 'POST',
      headers: { ...asConsole, 'Content-Type': 'application/json' },
      body: JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }]),
    });
    expect(pushed.status).toBe(200);
    // A file no row of which can be read: its job fails, and the alerter fires.
    const upload = await fetch(`${server.baseUrl}/v1/projects/${id}/files/broken.json`, {
      method: 'PUT',
      headers: { ...asConsole, 'Content-Type': 'application/json' },
      body: '[{"a": 1}, {"b": ',
    });
    expect(upload.status).toBe(202);
    const { jobId } = (await upload.json()) as { jobId: string };

    const deadline = Date.now() + 60_000;
    let overview: { projects: { id: string; records: number; jobs: { failed: number } }[]; ingestedPerHour: { records: number }[]; alerts: { kind: string; projectId?: string; message: string }[] };
    for (;;) {
      const res = await fetch(`${server.baseUrl}/v1/overview`, { headers: { Cookie: cookie } });
      expect(res.status).toBe(200);
      overview = (await res.json()) as typeof overview;
      if (overview.alerts.some((a) => a.projectId === id && a.message.includes(jobId))) break;
      if (Date.now() > deadline) throw new Error(`no alert for job ${jobId}: ${JSON.stringify(overview)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(overview.alerts[0]).toMatchObject({ kind: 'job', projectId: id });
    expect(overview.ingestedPerHour.at(-1)!.records).toBeGreaterThanOrEqual(3);
    const project = overview.projects.find((p) => p.id === id)!;
    expect(project.jobs.failed).toBe(1);

    // The audit event of the project's creation names the admin of the session.
    const audit = server.events().find((e) => e.event === 'audit' && e.action === 'project_created' && e.projectId === id);
    expect(audit).toMatchObject({ admin: { id: 'admin-token', via: 'token' } });
  });
});
