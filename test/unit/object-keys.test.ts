import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  MAX_FILE_NAME_LENGTH,
  assertSafeKey,
  errorReportKey,
  incomingKey,
  sanitizeFileName,
  settledKey,
} from '../../src/storage/object-keys.js';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** What every sanitised name must satisfy, whatever came in. */
function expectSafeName(name: string): void {
  expect(name.length).toBeGreaterThan(0);
  expect(name.length).toBeLessThanOrEqual(MAX_FILE_NAME_LENGTH);
  expect(name).not.toMatch(/[/\\]/);
  expect(name).not.toMatch(CONTROL);
  expect(name).not.toContain('..');
  expect(name.startsWith('.')).toBe(false);
  expect(name).not.toMatch(LONE_SURROGATE);
}

describe('sanitizeFileName', () => {
  it('keeps an ordinary name as it is', () => {
    expect(sanitizeFileName('customers-2026-01.csv')).toBe('customers-2026-01.csv');
    expect(sanitizeFileName('données clients.ndjson')).toBe('données clients.ndjson');
    expect(sanitizeFileName('日本語.json.gz')).toBe('日本語.json.gz');
  });

  it.each([
    '../../etc/passwd',
    '..\\..\\windows\\system32',
    '/absolute/path.csv',
    'a/b/c.csv',
    '....//....//x',
    '.',
    '..',
    '.hidden',
    'x/../../y',
  ])('strips traversal and separators from %j', (name) => {
    const safe = sanitizeFileName(name);
    expectSafeName(safe);
  });

  it('replaces NUL and other control characters', () => {
    expect(sanitizeFileName('a\u0000b.csv')).toBe('a_b.csv');
    expect(sanitizeFileName('\u0007bell\r\n\t.csv')).toBe('_bell_.csv');
    expectSafeName(sanitizeFileName('x\u007f\u0085\u009f.csv'));
  });

  it('replaces characters awkward in URLs and shells', () => {
    expectSafeName(sanitizeFileName('a:b*c?d"e<f>g|h#i%j{k}l^m~n[o]p`q.csv'));
    expect(sanitizeFileName('a:b*c?.csv')).toBe('a_b_c_.csv');
  });

  it('never returns an empty name', () => {
    for (const name of ['', ' ', '...', '\u0000', '   \t ']) {
      const safe = sanitizeFileName(name);
      expectSafeName(safe);
    }
    expect(sanitizeFileName('')).toBe('file');
  });

  it('bounds a 2,000-character name and keeps its extension', () => {
    const safe = sanitizeFileName(`${'n'.repeat(2000)}.csv.gz`);
    expect(safe).toHaveLength(MAX_FILE_NAME_LENGTH);
    expect(safe.endsWith('.gz')).toBe(true);
    expectSafeName(safe);
    expectSafeName(sanitizeFileName('/'.repeat(2000)));
    expectSafeName(sanitizeFileName('../'.repeat(700)));
  });

  it('never cuts an astral character in half when shortening', () => {
    for (const name of ['😀'.repeat(2000), `a${'😀'.repeat(2000)}`, `a${'😀'.repeat(2000)}.csv`, `${'😀'.repeat(2000)}.csv`]) {
      expectSafeName(sanitizeFileName(name));
    }
  });

  it('normalises to NFC', () => {
    expect(sanitizeFileName('e\u0301.csv')).toBe('\u00e9.csv');
  });
});

describe('incomingKey and settledKey', () => {
  it('keeps every client name inside incoming/<fileId>/', () => {
    for (const name of ['../../../x', '/etc/passwd', 'a\u0000/..', '..', '']) {
      const key = incomingKey('01FILEID', name);
      expect(key.startsWith('incoming/01FILEID/')).toBe(true);
      expect(key.split('/')).toHaveLength(3);
      expect(assertSafeKey(key)).toBe(key);
    }
  });

  it('moves a key to processed/ or failed/ keeping the rest', () => {
    expect(settledKey('incoming/F1/a.csv', 'processed')).toBe('processed/F1/a.csv');
    expect(settledKey('incoming/F1/a.csv', 'failed')).toBe('failed/F1/a.csv');
    expect(errorReportKey('J1')).toBe('reports/J1.errors.ndjson');
  });
});

describe('assertSafeKey', () => {
  it.each([
    ['empty', ''],
    ['absolute', '/incoming/x'],
    ['parent segment', 'incoming/../secret'],
    ['trailing parent', 'incoming/..'],
    ['dot segment', 'incoming/./x'],
    ['NUL', 'incoming/a\u0000b'],
    ['newline', 'incoming/a\nb'],
    ['DEL', 'incoming/a\u007fb'],
    ['over 1024 characters', `incoming/${'x'.repeat(1020)}`],
  ])('refuses a key with %s', (_label, key) => {
    expect(() => assertSafeKey(key)).toThrow(AppError);
  });

  it('accepts ordinary keys, dots inside names included', () => {
    for (const key of ['incoming/F/a.csv', 'processed/F/a..b', 'reports/x.errors.ndjson', 'a/b/c/d']) {
      expect(assertSafeKey(key)).toBe(key);
    }
  });
});
