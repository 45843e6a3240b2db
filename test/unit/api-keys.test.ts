import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeyService, hashSecret, keyIdOf, keyStatus, secretMatcher, secretsEqual } from '../../src/domain/api-keys.service.js';
import { AppError } from '../../src/errors.js';
import type { ApiKeyItem } from '../../src/domain/model.js';
import type { ControlStore } from '../../src/storage/ports.js';

const KEY_FORMAT = /^ik_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;

/** Just the key methods of the control store, in memory; storage itself is covered by the contract suite. */
function keyTable() {
  const items = new Map<string, ApiKeyItem>();
  let reads = 0;
  const store = {
    async createKey(key: ApiKeyItem) {
      items.set(key.id, structuredClone(key));
    },
    async getKey(id: string) {
      reads++;
      const item = items.get(id);
      return item ? structuredClone(item) : null;
    },
    async listKeys(projectId: string) {
      return [...items.values()].filter((k) => k.projectId === projectId);
    },
    async revokeKey(projectId: string, keyId: string, at: string) {
      const item = items.get(keyId);
      if (!item || item.projectId !== projectId) return false;
      item.revokedAt ??= at;
      return true;
    },
  };
  return { items, store: store as unknown as ControlStore, reads: () => reads };
}

function clock(start = Date.parse('2026-03-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

describe('ApiKeyService', () => {
  it('issues an ik_ key with 32 random bytes and stores only its SHA-256 hash', async () => {
    const table = keyTable();
    const keys = new ApiKeyService(table.store, 0);
    const { item, secret } = await keys.issue('proj', { name: 'ci' });
    const match = KEY_FORMAT.exec(secret);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(item.id);
    expect(Buffer.from(match![2]!, 'base64url')).toHaveLength(32);
    const stored = table.items.get(item.id)!;
    expect(stored.hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(match![2]);
    expect(stored.scopes).toEqual(['records:write', 'records:read', 'files:write']);
  });

  it('never issues the same key twice', async () => {
    const keys = new ApiKeyService(keyTable().store, 0);
    const secrets = await Promise.all(Array.from({ length: 200 }, () => keys.issue('p', { name: 'k' })));
    expect(new Set(secrets.map((s) => s.secret)).size).toBe(200);
    expect(new Set(secrets.map((s) => s.item.id)).size).toBe(200);
  });

  it('verifies the issued key and refuses anything else with 401', async () => {
    const keys = new ApiKeyService(keyTable().store, 0);
    const { item, secret } = await keys.issue('proj', { name: 'k', scopes: ['records:read'] });
    expect((await keys.verify(secret)).id).toBe(item.id);

    const lastChar = secret.at(-1) === 'A' ? 'B' : 'A';
    for (const wrong of [
      secret.slice(0, -1) + lastChar, // right id, wrong secret
      `ik_${'a'.repeat(16)}_${'A'.repeat(43)}`, // unknown id
      'garbage',
      '',
      `${secret} `,
      secret.toUpperCase(),
    ]) {
      const error = await rejection(keys.verify(wrong));
      expect(error.status).toBe(401);
      expect(error.code).toBe('unauthenticated');
      expect(error.message).toBe('The API key is not valid.');
    }
  });

  it('refuses an expired key', async () => {
    const time = clock();
    const keys = new ApiKeyService(keyTable().store, 2000, time.now);
    const expiresAt = new Date(time.now() + 1000).toISOString();
    const { secret } = await keys.issue('proj', { name: 'k', expiresAt });
    await expect(keys.verify(secret)).resolves.toBeTruthy();
    time.advance(1000);
    const error = await rejection(keys.verify(secret));
    expect([error.status, error.code, error.message]).toEqual([401, 'unauthenticated', 'The API key is expired.']);
  });

  it('refuses a key revoked through the service at once, despite the cache', async () => {
    const keys = new ApiKeyService(keyTable().store, 5000);
    const { item, secret } = await keys.issue('proj', { name: 'k' });
    await keys.verify(secret);
    const revoked = await keys.revoke('proj', item.id);
    expect(keyStatus(revoked)).toBe('revoked');
    expect((await rejection(keys.verify(secret))).message).toBe('The API key is revoked.');
  });

  it('sees a revocation made elsewhere once the cache entry is older than cacheMs', async () => {
    const time = clock();
    const table = keyTable();
    const keys = new ApiKeyService(table.store, 2000, time.now);
    const { item, secret } = await keys.issue('proj', { name: 'k' });
    await keys.verify(secret);
    // Another task revokes the key directly in storage.
    await table.store.revokeKey('proj', item.id, new Date(time.now()).toISOString());
    time.advance(1999);
    await expect(keys.verify(secret)).resolves.toBeTruthy();
    time.advance(1);
    expect((await rejection(keys.verify(secret))).code).toBe('unauthenticated');
  });

  it('reads storage on every request when the cache is off', async () => {
    const table = keyTable();
    const keys = new ApiKeyService(table.store, 0);
    const { secret } = await keys.issue('proj', { name: 'k' });
    const before = table.reads();
    await keys.verify(secret);
    await keys.verify(secret);
    expect(table.reads() - before).toBe(2);
  });

  it('refuses to revoke an unknown key or another project’s key with key_not_found', async () => {
    const keys = new ApiKeyService(keyTable().store, 0);
    const { item, secret } = await keys.issue('proj', { name: 'k' });
    expect((await rejection(keys.revoke('proj', 'nosuchkeyid23456'))).code).toBe('key_not_found');
    const other = await rejection(keys.revoke('other', item.id));
    expect([other.status, other.code]).toEqual([404, 'key_not_found']);
    await expect(keys.verify(secret)).resolves.toBeTruthy();
  });

  it('lists keys in creation order', async () => {
    const time = clock();
    const keys = new ApiKeyService(keyTable().store, 0, time.now);
    for (const name of ['a', 'b', 'c']) {
      await keys.issue('proj', { name });
      time.advance(10);
    }
    await keys.issue('elsewhere', { name: 'x' });
    expect((await keys.list('proj')).map((k) => k.name)).toEqual(['a', 'b', 'c']);
  });
});

describe('keyStatus', () => {
  const base: ApiKeyItem = {
    id: 'abcdefghijklmnop',
    projectId: 'p',
    name: 'k',
    hash: '0'.repeat(64),
    scopes: ['records:read'],
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const now = Date.parse('2026-06-01T00:00:00Z');

  it('tells active, expired and revoked apart', () => {
    expect(keyStatus(base, now)).toBe('active');
    expect(keyStatus({ ...base, expiresAt: '2026-06-01T00:00:01Z' }, now)).toBe('active');
    expect(keyStatus({ ...base, expiresAt: '2026-06-01T00:00:00Z' }, now)).toBe('expired');
    expect(keyStatus({ ...base, expiresAt: '2026-05-31T00:00:00Z' }, now)).toBe('expired');
    expect(keyStatus({ ...base, revokedAt: '2026-05-01T00:00:00Z' }, now)).toBe('revoked');
    // Revocation wins over expiry.
    expect(keyStatus({ ...base, revokedAt: '2026-05-01T00:00:00Z', expiresAt: '2026-05-02T00:00:00Z' }, now)).toBe(
      'revoked',
    );
  });
});

describe('secretsEqual', () => {
  it('compares secrets of any length without throwing', () => {
    expect(secretsEqual('same-secret', 'same-secret')).toBe(true);
    expect(secretsEqual('same-secret', 'same-secreT')).toBe(false);
    expect(secretsEqual('short', 'a much longer secret value')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
    expect(secretsEqual('', 'x')).toBe(false);
    expect(secretsEqual('ü', 'u\u0308')).toBe(false);
  });

  it('answers the same through a matcher made once for a fixed secret', () => {
    const isAdmin = secretMatcher('admin-token-value-of-some-length');
    expect(isAdmin('admin-token-value-of-some-length')).toBe(true);
    for (const other of ['', 'admin-token-value-of-some-lengtH', 'admin-token-value-of-some-length ', 'x']) {
      expect(isAdmin(other)).toBe(false);
    }
  });
});

describe('keyIdOf and hashSecret', () => {
  it('extracts only the public id of a well-formed key', () => {
    const key = `ik_abcdefghijklmnop_${'A'.repeat(43)}`;
    expect(keyIdOf(key)).toBe('abcdefghijklmnop');
    expect(keyIdOf('ik_short_secret')).toBeUndefined();
    expect(keyIdOf('test-admin-token')).toBeUndefined();
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
