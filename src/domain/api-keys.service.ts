import { assertDisplayName } from './display-names.js';
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';
import type { ApiKeyItem, RateLimitSetting, Scope } from './model.js';
import type { ControlStore } from '../storage/ports.js';
import { ALL_SCOPES } from './model.js';
import { LruCache } from './lru-cache.js';

const KEY_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const CACHE_MAX_ENTRIES = 10_000;

/** `ik_<keyId>_<secret>`: the key id lets a key be found and logged without its secret. */
const KEY_PATTERN = /^ik_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(value: string): string {
  return hash('sha256', value, 'hex');
}

/** Constant-time comparison of two secrets of any length (compared as SHA-256 digests). */
export function secretsEqual(a: string, b: string): boolean {
  return secretMatcher(b)(a);
}

/**
 * secretsEqual against one fixed secret (the admin token), whose digest is taken once
 * rather than on every request that presents a credential.
 */
export function secretMatcher(secret: string): (presented: string) => boolean {
  const expected = hash('sha256', secret, 'buffer');
  // One-shot hashing: no Hash object per request (every request that presents a credential comes here).
  return (presented) => timingSafeEqual(hash('sha256', presented, 'buffer'), expected);
}

function newKeyId(): string {
  const bytes = randomBytes(16);
  let id = '';
  for (const byte of bytes) id += KEY_ID_ALPHABET[byte & 31];
  return id;
}

/** The key id of something that looks like an Intake key, for logs; never the secret. */
export function keyIdOf(presented: string): string | undefined {
  return KEY_PATTERN.exec(presented)?.[1];
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function keyStatus(key: ApiKeyItem, now = Date.now()): KeyStatus {
  if (key.revokedAt !== undefined) return 'revoked';
  if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

export interface NewKeyInput {
  name: string;
  scopes?: Scope[];
  allowedIps?: string[];
  expiresAt?: string;
  rateLimit?: RateLimitSetting;
}

/**
 * Issues, lists, revokes and verifies API keys. Secrets are random (32 bytes), shown once
 * and stored only as SHA-256 hashes. Verification caches key items for `cacheMs` (≤ 5 s),
 * which bounds how long a revocation takes to reach every task.
 */
export class ApiKeyService {
  /** Key items by id; `null` remembers an unknown id, so guessed ids cost storage one read each per cacheMs. */
  private readonly cache: LruCache<string, ApiKeyItem | null>;

  constructor(
    private readonly control: ControlStore,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new LruCache({ maxEntries: CACHE_MAX_ENTRIES, ttlMs: cacheMs, now });
  }

  async issue(projectId: string, input: NewKeyInput): Promise<{ item: ApiKeyItem; secret: string }> {
    assertDisplayName('name', input.name);
    const id = newKeyId();
    const secret = `ik_${id}_${randomBytes(32).toString('base64url')}`;
    const item: ApiKeyItem = {
      id,
      projectId,
      name: input.name,
      hash: hashSecret(secret),
      scopes: input.scopes ?? [...ALL_SCOPES],
      allowedIps: input.allowedIps,
      rateLimit: input.rateLimit,
      expiresAt: input.expiresAt,
      createdAt: new Date(this.now()).toISOString(),
    };
    await this.control.createKey(item);
    return { item, secret };
  }

  async list(projectId: string): Promise<ApiKeyItem[]> {
    const keys = await this.control.listKeys(projectId);
    return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(projectId: string, keyId: string): Promise<ApiKeyItem> {
    const revoked = await this.control.revokeKey(projectId, keyId, new Date(this.now()).toISOString());
    this.cache.delete(keyId);
    const key = revoked ? await this.control.getKey(keyId) : null;
    if (!key) throw errors.keyNotFound(keyId);
    return key;
  }

  /** Returns the active key for a presented secret, or throws 401. */
  async verify(presented: string): Promise<ApiKeyItem> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) throw errors.unauthenticated('The API key is not valid.');
    const key = await this.lookup(match[1]!);
    const expected = Buffer.from(key?.hash ?? '0'.repeat(64), 'hex');
    const given = hash('sha256', presented, 'buffer');
    // Compare even when the key is unknown, so timing does not tell which ids exist.
    const same = expected.length === given.length && timingSafeEqual(expected, given);
    if (!key || !same) throw errors.unauthenticated('The API key is not valid.');
    const status = keyStatus(key, this.now());
    if (status !== 'active') throw errors.unauthenticated(`The API key is ${status}.`);
    return key;
  }

  private async lookup(keyId: string): Promise<ApiKeyItem | null> {
    const cached = this.cache.get(keyId);
    if (cached !== undefined) return cached;
    const key = await this.control.getKey(keyId);
    if (this.cacheMs > 0) this.cache.set(keyId, key);
    return key;
  }
}
