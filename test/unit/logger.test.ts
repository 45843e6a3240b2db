// The logger drops entries below its level before any formatting (timestamp, redaction,
// JSON), so a request log line nobody will see costs next to nothing.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';

function capture(level: string) {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean)));
  return { logger: createLogger({ level, stream, secrets: ['admin-secret-value'] }), lines };
}

describe('createLogger', () => {
  it('never formats an entry below its level', async () => {
    const { logger, lines } = capture('warn');
    let reads = 0;
    // winston copies the top-level fields itself; only formatting (redaction) walks into nested ones.
    const meta = {
      nested: {
        get detail() {
          reads++;
          return 'x';
        },
      },
    };
    logger.info('below the level', meta);
    logger.http('below the level', meta);
    logger.warn('at the level', { event: 'kept', ...meta });
    await new Promise((resolve) => setImmediate(resolve));
    // Read once: by the entry at the level, and never by the two below it.
    expect(reads).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', event: 'kept' });
  });

  it('still formats and redacts what it writes', async () => {
    const { logger, lines } = capture('http');
    logger.http('request', { authorization: 'Bearer abc', note: 'token admin-secret-value here' });
    await new Promise((resolve) => setImmediate(resolve));
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry.authorization).toBe('[REDACTED]');
    expect(entry.note).toBe('token [REDACTED] here');
    expect(typeof entry.timestamp).toBe('string');
  });

  it('follows a level changed after creation', async () => {
    const { logger, lines } = capture('warn');
    logger.level = 'debug';
    logger.debug('now shown', { event: 'debugging' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['debugging']);
  });
});

describe('percent-encoded secrets', () => {
  it('masks a key or a known secret percent-encoded once or more', async () => {
    const { redact } = await import('../../src/observability/logger.js');
    const key = 'ik_abcdefghijklmnop_SECRETSECRETSECRET123';
    const once = encodeURIComponent(key).replace('_', '%5F');
    expect(redact(`/v1/x/${once}`, [])).toBe('/v1/x/ik_abcdefghijklmnop_[REDACTED]');
    expect(redact(`/v1/x/${encodeURIComponent(once)}`, [])).not.toContain('SECRETSECRET');
    expect(redact('/v1/x/%74%6f%6b%65%6e-value-1234', ['token-value-1234'])).toBe('/v1/x/[REDACTED]');
    expect(redact('/v1/x/caf%C3%A9', [])).toBe('/v1/x/caf%C3%A9');
  });
});
