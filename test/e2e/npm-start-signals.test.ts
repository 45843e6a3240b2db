// `npm start` as a user runs it: SIGTERM or SIGINT sent to the npm process must reach the
// service, whose graceful shutdown runs (its `stopped` line is logged) before everything
// exits and the port is free again. Before, the signal stopped npm and its shell while the
// server kept running and held the port.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ADMIN_TOKEN, spawnServer } from '../support/server-process.js';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('stopping npm start', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-npm-start-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm process runs the graceful shutdown and frees the port', async (signal) => {
    const server = await spawnServer({
      command: ['npm', 'start', '--silent'],
      env: { INTAKE_DATA_DIR: path.join(dir, signal), INTAKE_ADMIN_TOKEN: E2E_ADMIN_TOKEN },
    });
    const exit = await server.stop(signal, 20_000);
    // Not killed by the harness's SIGKILL after the grace period: the service stopped itself.
    expect(exit.signal === 'SIGKILL').toBe(false);
    expect(server.events().some((e) => e.event === 'stopped')).toBe(true);
    // No orphan left holding the port.
    let free = await portIsFree(server.port);
    for (let i = 0; !free && i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      free = await portIsFree(server.port);
    }
    expect(free).toBe(true);
  }, 60_000);
});
