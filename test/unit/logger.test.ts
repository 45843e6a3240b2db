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
