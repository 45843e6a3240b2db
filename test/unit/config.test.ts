import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const STRONG_TOKEN = 'a'.repeat(32);

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.storage).toBe('embedded');
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.adminToken).toBeUndefined();
    expect(config.namePrefix).toBe('intake-');
    expect(config.limits.maxBodyBytes).toBe(5 * 1024 * 1024);
    expect(config.limits.maxRecordsPerRequest).toBe(10_000);
    expect(config.limits.maxJsonDepth).toBe(64);
    expect(config.keyCacheMs).toBe(2000);
    expect(config.poller.enabled).toBe(true);
    expect(config.trustProxyHops).toBe(0);
    expect(config.aws.region).toBe('us-east-1');
    expect(config.aws.s3Endpoint).toBeUndefined();
    expect(config.aws.s3ForcePathStyle).toBe(false);
  });

  it('defaults the poller and job knobs and the embedded durability', () => {
    const config = loadConfig({});
    expect(config.poller).toMatchObject({
      intervalMs: 2000,
      maxIdleIntervalMs: 15_000,
      settleMs: 2000,
      checkpointIntervalMs: 2000,
      maxAttempts: 3,
    });
    expect(config.embedded.synchronous).toBe('normal');
    expect(config.embedded.cacheMiB).toBe(8);
  });

  it('reads the poller and job knobs and the embedded durability', () => {
    const config = loadConfig({
      INTAKE_POLL_SETTLE_MS: '0',
      INTAKE_POLL_MAX_IDLE_INTERVAL_MS: '60000',
      INTAKE_JOB_CHECKPOINT_INTERVAL_MS: '500',
      INTAKE_JOB_MAX_ATTEMPTS: '5',
      INTAKE_SQLITE_SYNCHRONOUS: 'full',
      INTAKE_SQLITE_CACHE_MIB: '8',
    });
    expect(config.poller).toMatchObject({ settleMs: 0, maxIdleIntervalMs: 60_000, checkpointIntervalMs: 500, maxAttempts: 5 });
    expect(config.embedded).toEqual({ synchronous: 'full', cacheMiB: 8 });
    const error = configError({ INTAKE_SQLITE_SYNCHRONOUS: 'off', INTAKE_JOB_MAX_ATTEMPTS: '0', INTAKE_POLL_SETTLE_MS: '-1', INTAKE_SQLITE_CACHE_MIB: '1' });
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['INTAKE_JOB_MAX_ATTEMPTS', 'INTAKE_POLL_SETTLE_MS', 'INTAKE_SQLITE_CACHE_MIB', 'INTAKE_SQLITE_SYNCHRONOUS'].sort(),
    );
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.aws)).toBe(true);
    expect(Object.isFrozen(config.rateLimit.perKey)).toBe(true);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
  });

  it('reads values from the environment', () => {
    const config = loadConfig({
      PORT: '9000',
      INTAKE_NAME_PREFIX: 'acme-',
      INTAKE_MAX_BODY_BYTES: '2048',
      INTAKE_KEY_CACHE_MS: '0',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
    expect(config.port).toBe(9000);
    expect(config.namePrefix).toBe('acme-');
    expect(config.limits.maxBodyBytes).toBe(2048);
    expect(config.keyCacheMs).toBe(0);
    expect(config.aws.region).toBe('eu-west-1');
    expect(config.aws.s3Endpoint).toBe('http://localhost:4566');
    expect(config.aws.dynamodbEndpoint).toBe('http://localhost:4566');
    // An emulator endpoint implies path-style S3 URLs unless told otherwise.
    expect(config.aws.s3ForcePathStyle).toBe(true);
    expect(loadConfig({ AWS_ENDPOINT_URL: 'http://x:1', INTAKE_S3_FORCE_PATH_STYLE: 'false' }).aws.s3ForcePathStyle).toBe(false);
  });

  it('treats empty optional URLs and an empty admin token as unset', () => {
    const config = loadConfig({ AWS_ENDPOINT_URL: '', INTAKE_ALERT_WEBHOOK_URL: '', INTAKE_ADMIN_TOKEN: '' });
    expect(config.aws.s3Endpoint).toBeUndefined();
    expect(config.alertWebhookUrl).toBeUndefined();
    expect(config.adminToken).toBeUndefined();
  });

  it('lists every invalid variable in one ConfigError', () => {
    const error = configError({
      PORT: 'eighty',
      INTAKE_STORAGE: 's3',
      INTAKE_NAME_PREFIX: 'Bad_Prefix',
      INTAKE_LOG_LEVEL: 'loud',
      INTAKE_MAX_BODY_BYTES: '10',
      INTAKE_MAX_RECORDS_PER_REQUEST: '0',
      INTAKE_KEY_CACHE_MS: '60000',
      INTAKE_POLLER: 'maybe',
      AWS_ENDPOINT_URL_S3: 'not a url',
    });
    const variables = error.problems.map((p) => p.split(':')[0]);
    expect(variables.sort()).toEqual(
      [
        'AWS_ENDPOINT_URL_S3',
        'INTAKE_KEY_CACHE_MS',
        'INTAKE_LOG_LEVEL',
        'INTAKE_MAX_BODY_BYTES',
        'INTAKE_MAX_RECORDS_PER_REQUEST',
        'INTAKE_NAME_PREFIX',
        'INTAKE_POLLER',
        'INTAKE_STORAGE',
        'PORT',
      ].sort(),
    );
    for (const variable of variables) expect(error.message).toContain(variable);
  });

  it('lists the admin token problem together with the other invalid variables', () => {
    const error = configError({ INTAKE_STORAGE: 'aws', PORT: '70000' });
    expect(error.problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(error.problems.some((p) => p.startsWith('INTAKE_ADMIN_TOKEN'))).toBe(true);
  });

  it('refuses a key cache longer than the 5 s revocation bound', () => {
    expect(configError({ INTAKE_KEY_CACHE_MS: '5001' }).problems[0]).toMatch(/^INTAKE_KEY_CACHE_MS/);
    expect(loadConfig({ INTAKE_KEY_CACHE_MS: '5000' }).keyCacheMs).toBe(5000);
  });

  it('reads the gzip inflation-ratio bound, 400:1 by default, and refuses a ratio under 2', () => {
    expect(loadConfig({}).limits.maxInflationRatio).toBe(400);
    expect(loadConfig({ INTAKE_MAX_INFLATION_RATIO: '1000' }).limits.maxInflationRatio).toBe(1000);
    expect(configError({ INTAKE_MAX_INFLATION_RATIO: '1' }).problems[0]).toMatch(/^INTAKE_MAX_INFLATION_RATIO/);
    expect(configError({ INTAKE_MAX_INFLATION_RATIO: 'many' }).problems[0]).toMatch(/^INTAKE_MAX_INFLATION_RATIO/);
  });

  it('refuses a non-integer or negative limit', () => {
    expect(configError({ INTAKE_MAX_RECORDS_PER_REQUEST: '1.5' }).problems[0]).toMatch(/^INTAKE_MAX_RECORDS_PER_REQUEST/);
    expect(configError({ INTAKE_TRUST_PROXY_HOPS: '-1' }).problems[0]).toMatch(/^INTAKE_TRUST_PROXY_HOPS/);
  });

  describe('aws mode', () => {
    it('requires an admin token', () => {
      expect(configError({ INTAKE_STORAGE: 'aws' }).problems).toEqual([
        'INTAKE_ADMIN_TOKEN: required when INTAKE_STORAGE=aws',
      ]);
    });

    it('requires the admin token to be at least 32 characters', () => {
      const error = configError({ INTAKE_STORAGE: 'aws', INTAKE_ADMIN_TOKEN: 'a'.repeat(31) });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^INTAKE_ADMIN_TOKEN: .*32/);
      // The message names the variable, never its value.
      expect(error.message).not.toContain('a'.repeat(31));
      expect(loadConfig({ INTAKE_STORAGE: 'aws', INTAKE_ADMIN_TOKEN: STRONG_TOKEN }).adminToken).toBe(STRONG_TOKEN);
    });

    it('allows a short token in embedded mode but never whitespace', () => {
      expect(loadConfig({ INTAKE_ADMIN_TOKEN: 'short' }).adminToken).toBe('short');
      expect(configError({ INTAKE_ADMIN_TOKEN: 'has space' }).problems[0]).toMatch(/^INTAKE_ADMIN_TOKEN/);
    });

    it('takes the region from AWS_REGION before AWS_DEFAULT_REGION', () => {
      const config = loadConfig({
        INTAKE_STORAGE: 'aws',
        INTAKE_ADMIN_TOKEN: STRONG_TOKEN,
        AWS_REGION: 'eu-central-1',
        AWS_DEFAULT_REGION: 'us-west-2',
        AWS_ENDPOINT_URL: 'http://localstack:4566',
        AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamo:8000',
      });
      expect(config.aws.region).toBe('eu-central-1');
      expect(config.aws.s3Endpoint).toBe('http://localstack:4566');
      expect(config.aws.dynamodbEndpoint).toBe('http://dynamo:8000');
    });
  });
});
