import path from 'node:path';
import { z } from 'zod';

/**
 * Embedded mode's SQLite page cache by default, in MiB. A full read (an export, the
 * integrity check at start) fills the cache and it stays filled, so all of it is resident
 * for the process's life. A page the cache misses comes from the operating system's file
 * cache, a copy away: at 8 MiB against 32 the 1M-row keyed and unkeyed ingests, file
 * ingests, paging, reads by id and by key and pushes ran at the same speed within their
 * run-to-run swing, and a streamed export of 1M records peaked 25 MiB lower (bench/README.md).
 */
export const DEFAULT_SQLITE_CACHE_MIB = 8;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Where one setting comes from: the variables it reads, each with its schema, and how they become its value. */
interface Setting<T> {
  readonly variables: Readonly<Record<string, z.ZodType>>;
  readonly value: (parsed: Readonly<Record<string, unknown>>) => T;
}

type SettingsTable = { readonly [name: string]: Setting<unknown> | SettingsTable };

/** A setting read from one variable: its parsed value, or what `value` makes of it. */
function env<S extends z.ZodType>(name: string, schema: S): Setting<z.output<S>>;
function env<S extends z.ZodType, T>(name: string, schema: S, value: (parsed: z.output<S>) => T): Setting<T>;
function env<S extends z.ZodType, T>(name: string, schema: S, value?: (parsed: z.output<S>) => T): Setting<unknown> {
  return { variables: { [name]: schema }, value: (parsed) => (value ? value(parsed[name] as z.output<S>) : parsed[name]) };
}

/** A setting that several variables decide together (a fallback chain, a default that depends on another). */
function envGroup<V extends Record<string, z.ZodType>, T>(
  variables: V,
  value: (parsed: { [K in keyof V]: z.output<V[K]> }) => T,
): Setting<T> {
  return { variables, value: (parsed) => value(parsed as { [K in keyof V]: z.output<V[K]> }) };
}

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Comma-separated explicit origins (`https://app.example.com`); never `*`. */
const originList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const origins = text.split(',').map((o) => o.trim()).filter((o) => o.length > 0);
    for (const origin of origins) {
      let exact = false;
      try {
        const url = new URL(origin);
        exact = (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
      } catch {
        exact = false;
      }
      if (!exact) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(origin.slice(0, 100))} is not an origin such as https://app.example.com (no "*", path or trailing slash)`,
        });
      }
    }
    return origins;
  });

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Where a zero-trust proxy publishes its signing keys: https, or http on a loopback host
 * only (a test's own key server); a key fetched in clear over a network could be swapped.
 */
const keyServerUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text === '') return undefined;
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    const secure = url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)));
    if (url === undefined || !secure || url.search !== '' || url.hash !== '') {
      ctx.addIssue({ code: 'custom', message: 'must be an https URL (http only for localhost) without query or fragment' });
      return z.NEVER;
    }
    return url.origin + url.pathname.replace(/\/+$/, '');
  });

/** A comma-separated list, trimmed, empty entries dropped. */
const commaList = z
  .string()
  .default('')
  .transform((text): readonly string[] => Object.freeze(text.split(',').map((e) => e.trim()).filter((e) => e.length > 0)));

const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));

/**
 * Every setting Intake reads from the environment, each declared once: its variable, its
 * default and bounds, and where it sits in the Config. The schema that checks the
 * environment and the Config type both follow from this table.
 */
const SETTINGS = {
  port: env('PORT', int(8080, 0, 65535)),
  host: env('HOST', z.string().default('0.0.0.0')),
  storage: env('INTAKE_STORAGE', z.enum(['embedded', 'aws']).default('embedded')),
  dataDir: env('INTAKE_DATA_DIR', z.string().min(1).default('./data'), (dir) => path.resolve(dir)),
  adminToken: env('INTAKE_ADMIN_TOKEN', z.string().optional(), (token) => (token === '' ? undefined : token)),
  /**
   * When set, /metrics answers only `Authorization: Bearer <token>`. Held to the admin
   * token's rules (at least 32 characters, no whitespace): it guards what the service reveals.
   */
  metricsToken: env(
    'INTAKE_METRICS_TOKEN',
    z
      .string()
      .refine((token) => token === '' || (token.length >= 32 && !/\s/.test(token)), 'must be at least 32 characters without whitespace')
      .optional(),
    (token) => (token === '' ? undefined : token),
  ),
  /** How long an Idempotency-Key holds; a retry after that is a new request. */
  idempotencyTtlHours: env('INTAKE_IDEMPOTENCY_TTL_HOURS', int(24, 1, 24 * 365)),
  // Buckets are global on AWS and limited to 63 characters; a project id is up to 40,
  // so the prefix is kept short enough for `<prefix><projectId>` to fit.
  namePrefix: env(
    'INTAKE_NAME_PREFIX',
    z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,21}$/, 'must be 1-22 characters of [a-z0-9-], starting with a letter')
      .default('intake-'),
  ),
  logLevel: env('INTAKE_LOG_LEVEL', z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent']).default('info')),
  limits: {
    maxBodyBytes: env('INTAKE_MAX_BODY_BYTES', int(5 * MiB, 1024, 256 * MiB)),
    maxRecordsPerRequest: env('INTAKE_MAX_RECORDS_PER_REQUEST', int(10_000, 1, 1_000_000)),
    maxJsonDepth: env('INTAKE_MAX_JSON_DEPTH', int(64, 2, 1000)),
    maxFileBytes: env('INTAKE_MAX_FILE_BYTES', int(5 * GiB, 1, 5 * 1024 * GiB)),
    maxDecompressedBytes: env('INTAKE_MAX_DECOMPRESSED_BYTES', int(50 * GiB, 1, 5 * 1024 * GiB)),
    /**
     * Decompressed bytes per compressed byte past which a gzip file fails (a compression
     * bomb). Honest data files stay far below 400:1; the total above stops a bomb only
     * after it has held a poller slot for minutes.
     */
    maxInflationRatio: env('INTAKE_MAX_INFLATION_RATIO', int(400, 2, 100_000)),
  },
  /** Export jobs end a part at this many records or (uncompressed) bytes, whichever comes first. */
  exportJobs: {
    partRecords: env('INTAKE_EXPORT_PART_RECORDS', int(1_000_000, 1, 100_000_000)),
    partBytes: env('INTAKE_EXPORT_PART_BYTES', int(128 * MiB, 1024, 5 * GiB)),
    /**
     * Days an export job's objects stay under exports/ (an S3 lifecycle rule on each project
     * bucket; a periodic sweep in embedded mode); 0 keeps them. Exports are copies taken to be
     * downloaded soon, often large, so a week rather than the month uploads are kept.
     */
    retentionDays: env('INTAKE_EXPORT_RETENTION_DAYS', int(7, 0, 36500)),
  },
  /** Days a refused row stays in its project's quarantine. */
  quarantineRetentionDays: env('INTAKE_QUARANTINE_RETENTION_DAYS', int(30, 1, 3650)),
  /**
   * Days an ingested upload stays under processed/ (an S3 lifecycle rule on each project
   * bucket; a periodic sweep in embedded mode); 0 keeps it for good.
   */
  processedRetentionDays: env('INTAKE_PROCESSED_RETENTION_DAYS', int(30, 0, 36500)),
  /** At most 5 s: it bounds how long a revoked key keeps working on other tasks. */
  keyCacheMs: env('INTAKE_KEY_CACHE_MS', int(2000, 0, 5000)),
  poller: {
    enabled: env('INTAKE_POLLER', z.enum(['on', 'off']).default('on'), (v) => v === 'on'),
    intervalMs: env('INTAKE_POLL_INTERVAL_MS', int(2000, 50, 3_600_000)),
    /** Longest wait between polls once idle pollers have backed off (never below intervalMs). */
    maxIdleIntervalMs: env('INTAKE_POLL_MAX_IDLE_INTERVAL_MS', int(15_000, 50, 3_600_000)),
    /** How old an object put there without the API must be before the poller takes it. */
    settleMs: env('INTAKE_POLL_SETTLE_MS', int(2000, 0, 3_600_000)),
    concurrency: env('INTAKE_POLL_CONCURRENCY', int(2, 1, 64)),
    leaseMs: env('INTAKE_LEASE_MS', int(30_000, 1000, 3_600_000)),
    /** How often a running job saves its progress (and proves it still holds its lease). */
    checkpointIntervalMs: env('INTAKE_JOB_CHECKPOINT_INTERVAL_MS', int(2000, 100, 600_000)),
    /** Claims after which a job that keeps failing (storage outages aside) is failed. */
    maxAttempts: env('INTAKE_JOB_MAX_ATTEMPTS', int(3, 1, 100)),
    writeConcurrency: env('INTAKE_WRITE_CONCURRENCY', int(4, 1, 64)),
  },
  embedded: {
    /**
     * SQLite's durability: `normal` loses nothing acknowledged when the process dies;
     * `full` also survives a power loss, at the cost of an fsync per commit.
     */
    synchronous: env('INTAKE_SQLITE_SYNCHRONOUS', z.enum(['normal', 'full']).default('normal')),
    /** SQLite's page cache, in MiB (DEFAULT_SQLITE_CACHE_MIB says why 8 by default). */
    cacheMiB: env('INTAKE_SQLITE_CACHE_MIB', int(DEFAULT_SQLITE_CACHE_MIB, 2, 64 * 1024)),
  },
  trustProxyHops: env('INTAKE_TRUST_PROXY_HOPS', int(0, 0, 10)),
  rateLimit: {
    /** `memory`: counters per task; `dynamodb`: counters in the control table, shared by every task. */
    store: env('INTAKE_RATE_LIMIT_STORE', z.enum(['memory', 'dynamodb']).default('memory')),
    /** Per API key, unless the key has its own `rateLimit`. */
    perKey: {
      requests: env('INTAKE_RATE_LIMIT_REQUESTS', int(600, 1, 1_000_000)),
      windowSeconds: env('INTAKE_RATE_LIMIT_WINDOW_SECONDS', int(60, 1, 86_400)),
    },
    /** Failed authentications per client address; past it the address is refused until the window ends. */
    unauthenticated: {
      requests: env('INTAKE_UNAUTH_RATE_LIMIT_REQUESTS', int(30, 1, 100_000)),
      windowSeconds: env('INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS', int(60, 1, 86_400)),
    },
  },
  /** Origins allowed by CORS; empty means CORS is off. */
  corsOrigins: env('INTAKE_CORS_ORIGINS', originList, (origins): readonly string[] => Object.freeze([...origins])),
  http: {
    headersTimeoutMs: env('INTAKE_HEADERS_TIMEOUT_MS', int(20_000, 1000, 300_000)),
    /** 0: no limit on the whole request; uploads of many gigabytes legitimately take long. */
    requestTimeoutMs: env('INTAKE_REQUEST_TIMEOUT_MS', int(0, 0, 86_400_000)),
    socketIdleTimeoutMs: env('INTAKE_SOCKET_IDLE_TIMEOUT_MS', int(120_000, 1000, 3_600_000)),
    maxHeaderBytes: env('INTAKE_MAX_HEADER_BYTES', int(16 * 1024, 1024, 64 * 1024)),
    /** 0 turns the slow-body guard off. */
    minBodyBytesPerSecond: env('INTAKE_MIN_BODY_BYTES_PER_SECOND', int(512, 0, 100 * MiB)),
    bodyRateWindowMs: env('INTAKE_BODY_RATE_WINDOW_MS', int(20_000, 100, 600_000)),
  },
  shutdownTimeoutMs: env('INTAKE_SHUTDOWN_TIMEOUT_MS', int(25_000, 1000, 120_000)),
  /**
   * Time between /readyz turning 503 and the listener closing, for load balancers that only
   * learn of a stop from the health check (ECS deregisters before SIGTERM: 0 is right there).
   */
  shutdownDrainDelayMs: env('INTAKE_SHUTDOWN_DRAIN_DELAY_MS', int(0, 0, 60_000)),
  alertWebhookUrl: env('INTAKE_ALERT_WEBHOOK_URL', optionalUrl),
  /**
   * Zero-trust identity for the console and the admin API: Cloudflare Access (team domain +
   * application audience) and/or an AWS ALB with OIDC (its ARN, the signer). Off when unset.
   * Only identities in the email or group allowlist are admins.
   */
  zeroTrust: envGroup(
    {
      INTAKE_ACCESS_TEAM_DOMAIN: keyServerUrl,
      INTAKE_ACCESS_AUDIENCE: z.string().optional(),
      INTAKE_ALB_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional(),
      INTAKE_ALB_ARN: z.string().startsWith('arn:').optional(),
      INTAKE_ALB_KEYS_URL: keyServerUrl,
      INTAKE_ADMIN_EMAILS: commaList,
      INTAKE_ADMIN_GROUPS: commaList,
    },
    (v) => ({
      cloudflare:
        v.INTAKE_ACCESS_TEAM_DOMAIN !== undefined && v.INTAKE_ACCESS_AUDIENCE
          ? { teamDomain: v.INTAKE_ACCESS_TEAM_DOMAIN, audience: v.INTAKE_ACCESS_AUDIENCE }
          : undefined,
      alb:
        v.INTAKE_ALB_ARN !== undefined && (v.INTAKE_ALB_KEYS_URL !== undefined || v.INTAKE_ALB_REGION !== undefined)
          ? {
              signer: v.INTAKE_ALB_ARN,
              keysUrl: v.INTAKE_ALB_KEYS_URL ?? `https://public-keys.auth.elb.${v.INTAKE_ALB_REGION}.amazonaws.com`,
            }
          : undefined,
      adminEmails: Object.freeze(v.INTAKE_ADMIN_EMAILS.map((e) => e.toLowerCase())),
      adminGroups: v.INTAKE_ADMIN_GROUPS,
    }),
  ),
  aws: envGroup(
    {
      AWS_REGION: z.string().optional(),
      AWS_DEFAULT_REGION: z.string().optional(),
      AWS_ENDPOINT_URL: optionalUrl,
      AWS_ENDPOINT_URL_S3: optionalUrl,
      AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
      INTAKE_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
    },
    (v) => {
      const s3Endpoint = v.AWS_ENDPOINT_URL_S3 ?? v.AWS_ENDPOINT_URL;
      return {
        region: v.AWS_REGION ?? v.AWS_DEFAULT_REGION ?? 'us-east-1',
        s3Endpoint,
        dynamodbEndpoint: v.AWS_ENDPOINT_URL_DYNAMODB ?? v.AWS_ENDPOINT_URL,
        // Emulators (LocalStack, test S3 engines) need path-style URLs; AWS itself does not.
        s3ForcePathStyle:
          v.INTAKE_S3_FORCE_PATH_STYLE === undefined ? s3Endpoint !== undefined : v.INTAKE_S3_FORCE_PATH_STYLE === 'true',
      };
    },
  ),
} satisfies SettingsTable;

type ConfigOf<T> = {
  readonly [K in keyof T]: T[K] extends Setting<infer V> ? (V extends object ? Readonly<V> : V) : ConfigOf<T[K]>;
};

/** The settings as the code reads them: the table's shape, frozen. */
export type Config = ConfigOf<typeof SETTINGS>;

function isSetting(entry: Setting<unknown> | SettingsTable): entry is Setting<unknown> {
  return typeof entry.value === 'function' && typeof entry.variables === 'object';
}

/** The schema over the environment: one entry per variable, gathered from the table. */
function environmentSchema(table: SettingsTable, shape: Record<string, z.ZodType> = {}): Record<string, z.ZodType> {
  for (const entry of Object.values(table)) {
    if (!isSetting(entry)) {
      environmentSchema(entry, shape);
      continue;
    }
    for (const [name, schema] of Object.entries(entry.variables)) {
      if (name in shape) throw new Error(`${name} is declared by two settings`);
      shape[name] = schema;
    }
  }
  return shape;
}

function buildConfig(table: SettingsTable, parsed: Readonly<Record<string, unknown>>): object {
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(table)) {
    const value = isSetting(entry) ? entry.value(parsed) : buildConfig(entry, parsed);
    out[key] = typeof value === 'object' && value !== null ? Object.freeze(value) : value;
  }
  return Object.freeze(out);
}

const envSchema = z.object(environmentSchema(SETTINGS));

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function adminTokenProblems(storage: string | undefined, adminToken: string | undefined): string[] {
  const problems: string[] = [];
  if (storage === 'aws') {
    // Embedded mode may generate a token; on AWS a missing or weak token is a deployment bug.
    if (!adminToken) problems.push('INTAKE_ADMIN_TOKEN: required when INTAKE_STORAGE=aws');
    else if (adminToken.length < 32)
      problems.push('INTAKE_ADMIN_TOKEN: must be at least 32 characters when INTAKE_STORAGE=aws');
  }
  if (adminToken !== undefined && /\s/.test(adminToken)) {
    problems.push('INTAKE_ADMIN_TOKEN: must not contain whitespace');
  }
  return problems;
}

/** Half a zero-trust setup would silently turn it off, and one without an allowlist would let any identity in. */
function zeroTrustProblems(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const problems: string[] = [];
  if (set('INTAKE_ACCESS_TEAM_DOMAIN') !== set('INTAKE_ACCESS_AUDIENCE')) {
    problems.push('INTAKE_ACCESS_TEAM_DOMAIN and INTAKE_ACCESS_AUDIENCE: set both for Cloudflare Access, or neither');
  }
  if (set('INTAKE_ALB_ARN') && !set('INTAKE_ALB_REGION') && !set('INTAKE_ALB_KEYS_URL')) {
    problems.push('INTAKE_ALB_REGION: required with INTAKE_ALB_ARN (its public keys are per region)');
  }
  if ((set('INTAKE_ALB_REGION') || set('INTAKE_ALB_KEYS_URL')) && !set('INTAKE_ALB_ARN')) {
    problems.push('INTAKE_ALB_ARN: required with INTAKE_ALB_REGION or INTAKE_ALB_KEYS_URL (the load balancer that signs)');
  }
  const enabled = set('INTAKE_ACCESS_TEAM_DOMAIN') || set('INTAKE_ALB_ARN');
  if (enabled && !set('INTAKE_ADMIN_EMAILS') && !set('INTAKE_ADMIN_GROUPS')) {
    problems.push('INTAKE_ADMIN_EMAILS or INTAKE_ADMIN_GROUPS: required with a zero-trust proxy (who among its users is an admin)');
  }
  return problems;
}

/**
 * Reads the configuration from the environment, once, at start. Every invalid variable is
 * listed in one error so a misconfigured task fails fast and says why.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  // Checked on the raw values too, so the token is listed alongside any other bad variable.
  const rawToken = env.INTAKE_ADMIN_TOKEN === '' ? undefined : env.INTAKE_ADMIN_TOKEN;
  const tokenProblems = [...adminTokenProblems(env.INTAKE_STORAGE, rawToken), ...zeroTrustProblems(env)];
  if (!parsed.success) {
    throw new ConfigError([
      ...parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      ...tokenProblems,
    ]);
  }
  if (tokenProblems.length > 0) throw new ConfigError(tokenProblems);
  return buildConfig(SETTINGS, parsed.data) as Config;
}
