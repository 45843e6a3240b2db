// The app as the openapi contract tests see it: built on real embedded storage (SQLite
// and the filesystem object store, under a temp dir), and its routes as
// OpenAPI path templates.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type IntakeApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createServices } from '../../src/services.js';
import { createStorage } from '../../src/storage/create-storage.js';

export interface ContractApp {
  app: IntakeApp;
  adminToken: string;
  close(): Promise<void>;
}

export async function startContractApp(env: Record<string, string> = {}): Promise<ContractApp> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-openapi-'));
  const adminToken = `iat_openapi_contract_${'t'.repeat(32)}`;
  const config = loadConfig({ ...env, INTAKE_DATA_DIR: dataDir, INTAKE_ADMIN_TOKEN: adminToken, INTAKE_POLLER: 'off' });
  const storage = await createStorage(config);
  try {
    const app = createApp({
      config,
      storage,
      services: createServices(config, storage, adminToken),
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      adminToken,
    });
    return {
      app,
      adminToken,
      async close() {
        await storage.close();
        await fs.rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

export interface ServedRoute {
  /** OpenAPI form: `/v1/projects/{projectId}`. */
  path: string;
  method: string;
}

export interface ServedRoutes {
  routes: ServedRoute[];
  /** Paths of `router.use(path, ...)` mounts (sub-apps such as the docs). */
  mounts: string[];
  /** Layers this walk cannot express as a path template; each one is a contract gap. */
  unreadable: string[];
}

/** Express `:name` parameters become `{name}`; anything fancier is reported as unreadable. */
export function toOpenApiPath(expressPath: string): string | undefined {
  if (/[*?()[\]{}]/.test(expressPath)) return undefined;
  return expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

interface LayerLike {
  name?: string;
  rawPath?: unknown;
  route?: { path?: unknown; methods?: Record<string, boolean> };
}

/** Walks the router's stack (Express 5 / router 2 layers). */
export function servedRoutes(app: IntakeApp): ServedRoutes {
  const out: ServedRoutes = { routes: [], mounts: [], unreadable: [] };
  for (const layer of app.routes.stack as LayerLike[]) {
    if (layer.route) {
      const raw = layer.route.path;
      const template = typeof raw === 'string' ? toOpenApiPath(raw) : undefined;
      if (template === undefined) {
        out.unreadable.push(`route ${String(raw)}`);
        continue;
      }
      for (const [method, on] of Object.entries(layer.route.methods ?? {})) {
        if (!on) continue;
        if (method === '_all') out.unreadable.push(`route ${template} (all methods)`);
        else out.routes.push({ path: template, method });
      }
    } else if (typeof layer.rawPath === 'string' && layer.rawPath !== '/') {
      if (!out.mounts.includes(layer.rawPath)) out.mounts.push(layer.rawPath);
    } else {
      // A middleware on every path inside the router would sit outside the contract.
      out.unreadable.push(`middleware ${layer.name ?? '<anonymous>'} at ${String(layer.rawPath)}`);
    }
  }
  return out;
}
