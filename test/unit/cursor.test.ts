import { describe, expect, it } from 'vitest';
import { CursorCodec } from '../../src/domain/cursor.js';
import { nextCursor, pageRequest, parseLimit } from '../../src/http/paging.js';
import { AppError } from '../../src/errors.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).code;
  }
  return undefined;
}

describe('CursorCodec', () => {
  const codec = new CursorCodec('secret-one');

  it('round-trips a position within its scope', () => {
    const cursor = codec.encode('records:alpha', '01HZX-position');
    expect(codec.decode('records:alpha', cursor)).toBe('01HZX-position');
    // Opaque and URL-safe: the position is not in plain sight.
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain('01HZX');
  });

  it('keeps positions with any characters intact', () => {
    const position = '2026-01-01T00:00:00.000Z|job#ä😀/"\\';
    expect(codec.decode('jobs:x', codec.encode('jobs:x', position))).toBe(position);
  });

  it('refuses a cursor from another scope (listing or project)', () => {
    const cursor = codec.encode('records:alpha', 'p');
    expect(codeOf(() => codec.decode('records:beta', cursor))).toBe('invalid_cursor');
    expect(codeOf(() => codec.decode('projects', cursor))).toBe('invalid_cursor');
  });

  it('refuses a cursor signed with another secret', () => {
    const other = new CursorCodec('secret-two').encode('records:alpha', 'p');
    expect(codeOf(() => codec.decode('records:alpha', other))).toBe('invalid_cursor');
  });

  it('refuses an edited payload, even when it still decodes', () => {
    const cursor = codec.encode('records:alpha', 'aaaa');
    const [, signature] = cursor.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ s: 'records:alpha', p: 'zzzz' })).toString('base64url');
    expect(codeOf(() => codec.decode('records:alpha', `${forgedPayload}.${signature}`))).toBe('invalid_cursor');
    // Flip one character of the payload.
    const flipped = (cursor[0] === 'A' ? 'B' : 'A') + cursor.slice(1);
    expect(codeOf(() => codec.decode('records:alpha', flipped))).toBe('invalid_cursor');
  });

  it('refuses an edited signature', () => {
    const cursor = codec.encode('records:alpha', 'p');
    const last = cursor.at(-1) === 'A' ? 'B' : 'A';
    expect(codeOf(() => codec.decode('records:alpha', cursor.slice(0, -1) + last))).toBe('invalid_cursor');
    expect(codeOf(() => codec.decode('records:alpha', cursor.slice(0, -1)))).toBe('invalid_cursor');
  });

  it.each([
    ['empty', ''],
    ['no signature', 'abc'],
    ['empty parts', '.'],
    ['three parts', 'a.b.c'],
    ['garbage', '%%%!!!'],
    ['forged json', `${Buffer.from('{"s":"records:alpha","p":"x"}').toString('base64url')}.${'A'.repeat(27)}`],
    ['very long', `${'a'.repeat(5000)}.${'b'.repeat(27)}`],
  ])('refuses a forged cursor: %s', (_label, cursor) => {
    expect(codeOf(() => codec.decode('records:alpha', cursor))).toBe('invalid_cursor');
  });
});

describe('parseLimit', () => {
  it('defaults when absent and accepts the bounds', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
  });

  it.each(['0', '1001', '-1', 'abc', '', '1.5', '1e3', ' 5', '99999999'])('refuses %j', (raw) => {
    expect(codeOf(() => parseLimit(raw))).toBe('invalid_limit');
  });

  it('refuses repeated or structured query values', () => {
    expect(codeOf(() => parseLimit(['1', '2']))).toBe('invalid_limit');
    expect(codeOf(() => parseLimit({ a: '1' }))).toBe('invalid_limit');
  });
});

describe('pageRequest', () => {
  const codec = new CursorCodec('paging-secret');

  it('reads the limit and the position of a cursor issued for the same listing', () => {
    expect(pageRequest({}, codec, 'jobs:alpha')).toEqual({ limit: 100 });
    const cursor = nextCursor(codec, 'jobs:alpha', 'job-7')!;
    expect(pageRequest({ limit: '5', cursor }, codec, 'jobs:alpha')).toEqual({ limit: 5, after: 'job-7' });
    expect(codeOf(() => pageRequest({ cursor }, codec, 'jobs:beta'))).toBe('invalid_cursor');
  });

  it('refuses a repeated cursor and checks the limit first', () => {
    expect(codeOf(() => pageRequest({ cursor: ['a', 'b'] }, codec, 'projects'))).toBe('invalid_cursor');
    expect(codeOf(() => pageRequest({ limit: '0', cursor: 'forged' }, codec, 'projects'))).toBe('invalid_limit');
    expect(codeOf(() => pageRequest({ limit: '0', cursor: ['a', 'b'] }, codec, 'projects'))).toBe('invalid_limit');
  });

  it('ends the listing with a null next cursor', () => {
    expect(nextCursor(codec, 'projects', undefined)).toBeNull();
  });
});
