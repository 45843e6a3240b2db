import path from 'node:path';
import { z } from 'zod';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const intFrom = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

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

const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));

/**
 * Every setting Intake reads from the environment. Parsed once at start; every invalid
 * variable is listed in one error so a misconfigured task fails fast and says why.
 */
const envSchema = z.object({
  PORT: intFrom(8080, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  INTAKE_STORAGE: z.enum(['embedded', 'aws']).default('embedded'),
  INTAKE_DATA_DIR: z.string().min(1).default('./data'),
  INTAKE_ADMIN_TOKEN: z.string().optional(),
  // Buckets are global on AWS and limited to 63 characters; a project id is up to 40,
  // so the prefix is kept short enough for `<prefix><projectId>` to fit.
  INTAKE_NAME_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,21}$/, 'must be 1-22 characters of [a-z0-9-], starting with a letter')
    .default('intake-'),
  INTAKE_LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent']).default('info'),
  INTAKE_MAX_BODY_BYTES: intFrom(5 * MiB, 1024, 256 * MiB),
  INTAKE_MAX_RECORDS_PER_REQUEST: intFrom(10_000, 1, 1_000_000),
  INTAKE_MAX_JSON_DEPTH: intFrom(64, 2, 1000),
  INTAKE_MAX_FILE_BYTES: intFrom(5 * GiB, 1, 5 * 1024 * GiB),
  INTAKE_MAX_DECOMPRESSED_BYTES: intFrom(50 * GiB, 1, 5 * 1024 * GiB),
  INTAKE_KEY_CACHE_MS: intFrom(2000, 0, 5000),
  INTAKE_POLL_INTERVAL_MS: intFrom(2000, 50, 3_600_000),
  INTAKE_POLL_CONCURRENCY: intFrom(2, 1, 64),
  INTAKE_LEASE_MS: intFrom(30_000, 1000, 3_600_000),
  INTAKE_WRITE_CONCURRENCY: intFrom(4, 1, 64),
  INTAKE_POLLER: z.enum(['on', 'off']).default('on'),
  INTAKE_TRUST_PROXY_HOPS: intFrom(0, 0, 10),
  INTAKE_RATE_LIMIT_REQUESTS: intFrom(600, 1, 1_000_000),
  INTAKE_RATE_LIMIT_WINDOW_SECONDS: intFrom(60, 1, 86_400),
  INTAKE_UNAUTH_RATE_LIMIT_REQUESTS: intFrom(30, 1, 100_000),
  INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS: intFrom(60, 1, 86_400),
  INTAKE_RATE_LIMIT_STORE: z.enum(['memory', 'dynamodb']).default('memory'),
  INTAKE_CORS_ORIGINS: originList,
  INTAKE_HEADERS_TIMEOUT_MS: intFrom(20_000, 1000, 300_000),
  // 0 = no limit on the whole request: uploads of many gigabytes legitimately take long.
  INTAKE_REQUEST_TIMEOUT_MS: intFrom(0, 0, 86_400_000),
  INTAKE_SOCKET_IDLE_TIMEOUT_MS: intFrom(120_000, 1000, 3_600_000),
  INTAKE_MIN_BODY_BYTES_PER_SECOND: intFrom(512, 0, 100 * MiB),
  INTAKE_BODY_RATE_WINDOW_MS: intFrom(20_000, 100, 600_000),
  INTAKE_MAX_HEADER_BYTES: intFrom(16 * 1024, 1024, 64 * 1024),
  INTAKE_SHUTDOWN_TIMEOUT_MS: intFrom(25_000, 1000, 120_000),
  // Time between /readyz turning 503 and the listener closing, for load balancers that only
  // learn of a stop from the health check (ECS deregisters before SIGTERM: 0 is right there).
  INTAKE_SHUTDOWN_DRAIN_DELAY_MS: intFrom(0, 0, 60_000),
  INTAKE_ALERT_WEBHOOK_URL: optionalUrl,
  AWS_REGION: z.string().optional(),
  AWS_DEFAULT_REGION: z.string().optional(),
  AWS_ENDPOINT_URL: optionalUrl,
  AWS_ENDPOINT_URL_S3: optionalUrl,
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  INTAKE_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly storage: 'embedded' | 'aws';
  readonly dataDir: string;
  readonly adminToken: string | undefined;
  readonly namePrefix: string;
  readonly logLevel: string;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxRecordsPerRequest: number;
    readonly maxJsonDepth: number;
    readonly maxFileBytes: number;
    readonly maxDecompressedBytes: number;
  };
  readonly keyCacheMs: number;
  readonly poller: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly concurrency: number;
    readonly leaseMs: number;
    readonly writeConcurrency: number;
  };
  readonly trustProxyHops: number;
  readonly rateLimit: {
    /** `memory`: counters per task; `dynamodb`: counters in the control table, shared by every task. */
    readonly store: 'memory' | 'dynamodb';
    /** Per API key, unless the key has its own `rateLimit`. */
    readonly perKey: { readonly requests: number; readonly windowSeconds: number };
    /** Failed authentications per client address; past it the address is refused until the window ends. */
    readonly unauthenticated: { readonly requests: number; readonly windowSeconds: number };
  };
  /** Origins allowed by CORS; empty means CORS is off. */
  readonly corsOrigins: readonly string[];
  readonly http: {
    readonly headersTimeoutMs: number;
    /** 0: no limit on the whole request. */
    readonly requestTimeoutMs: number;
    readonly socketIdleTimeoutMs: number;
    readonly maxHeaderBytes: number;
    /** 0 turns the slow-body guard off. */
    readonly minBodyBytesPerSecond: number;
    readonly bodyRateWindowMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly shutdownDrainDelayMs: number;
  readonly alertWebhookUrl: string | undefined;
  readonly aws: {
    readonly region: string;
    readonly s3Endpoint: string | undefined;
    readonly dynamodbEndpoint: string | undefined;
    readonly s3ForcePathStyle: boolean;
  };
}

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  // Checked on the raw values too, so the token is listed alongside any other bad variable.
  const rawToken = env.INTAKE_ADMIN_TOKEN === '' ? undefined : env.INTAKE_ADMIN_TOKEN;
  const tokenProblems = adminTokenProblems(env.INTAKE_STORAGE, rawToken);
  if (!parsed.success) {
    throw new ConfigError([
      ...parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      ...tokenProblems,
    ]);
  }
  const e = parsed.data;
  const adminToken = e.INTAKE_ADMIN_TOKEN === '' ? undefined : e.INTAKE_ADMIN_TOKEN;
  if (tokenProblems.length > 0) throw new ConfigError(tokenProblems);

  const endpoint = e.AWS_ENDPOINT_URL;
  const s3Endpoint = e.AWS_ENDPOINT_URL_S3 ?? endpoint;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    storage: e.INTAKE_STORAGE,
    dataDir: path.resolve(e.INTAKE_DATA_DIR),
    adminToken,
    namePrefix: e.INTAKE_NAME_PREFIX,
    logLevel: e.INTAKE_LOG_LEVEL,
    limits: Object.freeze({
      maxBodyBytes: e.INTAKE_MAX_BODY_BYTES,
      maxRecordsPerRequest: e.INTAKE_MAX_RECORDS_PER_REQUEST,
      maxJsonDepth: e.INTAKE_MAX_JSON_DEPTH,
      maxFileBytes: e.INTAKE_MAX_FILE_BYTES,
      maxDecompressedBytes: e.INTAKE_MAX_DECOMPRESSED_BYTES,
    }),
    keyCacheMs: e.INTAKE_KEY_CACHE_MS,
    poller: Object.freeze({
      enabled: e.INTAKE_POLLER === 'on',
      intervalMs: e.INTAKE_POLL_INTERVAL_MS,
      concurrency: e.INTAKE_POLL_CONCURRENCY,
      leaseMs: e.INTAKE_LEASE_MS,
      writeConcurrency: e.INTAKE_WRITE_CONCURRENCY,
    }),
    trustProxyHops: e.INTAKE_TRUST_PROXY_HOPS,
    rateLimit: Object.freeze({
      store: e.INTAKE_RATE_LIMIT_STORE,
      perKey: Object.freeze({ requests: e.INTAKE_RATE_LIMIT_REQUESTS, windowSeconds: e.INTAKE_RATE_LIMIT_WINDOW_SECONDS }),
      unauthenticated: Object.freeze({
        requests: e.INTAKE_UNAUTH_RATE_LIMIT_REQUESTS,
        windowSeconds: e.INTAKE_UNAUTH_RATE_LIMIT_WINDOW_SECONDS,
      }),
    }),
    corsOrigins: Object.freeze([...e.INTAKE_CORS_ORIGINS]),
    http: Object.freeze({
      headersTimeoutMs: e.INTAKE_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.INTAKE_REQUEST_TIMEOUT_MS,
      socketIdleTimeoutMs: e.INTAKE_SOCKET_IDLE_TIMEOUT_MS,
      maxHeaderBytes: e.INTAKE_MAX_HEADER_BYTES,
      minBodyBytesPerSecond: e.INTAKE_MIN_BODY_BYTES_PER_SECOND,
      bodyRateWindowMs: e.INTAKE_BODY_RATE_WINDOW_MS,
    }),
    shutdownTimeoutMs: e.INTAKE_SHUTDOWN_TIMEOUT_MS,
    shutdownDrainDelayMs: e.INTAKE_SHUTDOWN_DRAIN_DELAY_MS,
    alertWebhookUrl: e.INTAKE_ALERT_WEBHOOK_URL,
    aws: Object.freeze({
      region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
      s3Endpoint,
      dynamodbEndpoint: e.AWS_ENDPOINT_URL_DYNAMODB ?? endpoint,
      // Emulators (LocalStack, test S3 engines) need path-style URLs; AWS itself does not.
      s3ForcePathStyle:
        e.INTAKE_S3_FORCE_PATH_STYLE === undefined
          ? s3Endpoint !== undefined
          : e.INTAKE_S3_FORCE_PATH_STYLE === 'true',
    }),
  });
}
