import { createRemoteJWKSet, flattenedVerify, importSPKI, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { errors } from '../errors.js';
import type { AuthRefusal } from './auth.service.js';
import { LruCache } from './lru-cache.js';
import type { AdminIdentity } from './session.service.js';

/** A zero-trust proxy's signed statement of who the caller is, as found on the request. */
export interface ZeroTrustAssertion {
  via: 'cloudflare-access' | 'alb-oidc';
  jwt: string;
}

export type ZeroTrustDecision = { ok: true; admin: AdminIdentity } | AuthRefusal;

/** Verifies the identity a zero-trust proxy puts on a request; never trusts it unverified. */
export interface ZeroTrustService {
  /** The assertion of a configured proxy found in these headers, if any. */
  assertionOf(headers: { cfAccess?: string; albOidc?: string }): ZeroTrustAssertion | undefined;
  verify(assertion: ZeroTrustAssertion): Promise<ZeroTrustDecision>;
}

type ZeroTrustConfig = Config['zeroTrust'];

/** Who the proxy says the caller is, once its signature and claims have been checked. */
interface VerifiedIdentity {
  subject: string;
  email?: string;
  name?: string;
  groups: string[];
}

class AssertionRefused extends Error {}

/** ALB key ids are UUIDs; anything else never reaches a URL. */
const ALB_KID = /^[A-Za-z0-9-]{1,128}$/;
const KEY_FETCH_TIMEOUT_MS = 5000;
/** Seconds of clock difference tolerated between the proxy and this task. */
const CLOCK_TOLERANCE_S = 30;

const stringsOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const stringOf = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Cloudflare Access and AWS ALB (OIDC) assertions verified with `jose`: the signature
 * against the proxy's published keys, then issuer, audience (or signer) and expiry; an
 * unsigned (`alg: none`) token, a wrong signature, an unknown key id, an expired token or
 * one for another application is refused with 401. A verified identity outside the
 * allowlist is refused with 403. Keys are cached: jose's remote JWKS set for Cloudflare
 * (refetched on an unknown kid, at most every 30 s), and an LRU of ALB keys by kid (an ALB
 * key never changes under its kid).
 */
export class JoseZeroTrust implements ZeroTrustService {
  private readonly cloudflareKeys?: ReturnType<typeof createRemoteJWKSet>;
  private readonly albKeys = new LruCache<string, Promise<CryptoKey>>({ maxEntries: 32 });

  constructor(private readonly config: ZeroTrustConfig) {
    if (config.cloudflare !== undefined) {
      this.cloudflareKeys = createRemoteJWKSet(new URL(`${config.cloudflare.teamDomain}/cdn-cgi/access/certs`), {
        timeoutDuration: KEY_FETCH_TIMEOUT_MS,
        cooldownDuration: 30_000,
      });
    }
  }

  static enabled(config: ZeroTrustConfig): boolean {
    return config.cloudflare !== undefined || config.alb !== undefined;
  }

  assertionOf(headers: { cfAccess?: string; albOidc?: string }): ZeroTrustAssertion | undefined {
    if (this.config.cloudflare !== undefined && headers.cfAccess) return { via: 'cloudflare-access', jwt: headers.cfAccess };
    if (this.config.alb !== undefined && headers.albOidc) return { via: 'alb-oidc', jwt: headers.albOidc };
    return undefined;
  }

  async verify(assertion: ZeroTrustAssertion): Promise<ZeroTrustDecision> {
    let identity: VerifiedIdentity;
    try {
      identity = assertion.via === 'cloudflare-access' ? await this.verifyCloudflare(assertion.jwt) : await this.verifyAlb(assertion.jwt);
    } catch (error) {
      // jose's error codes (ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JWKS_NO_MATCHING_KEY,
      // ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED, ...) say why, for the log only.
      const code = (error as { code?: unknown }).code;
      const detail = typeof code === 'string' ? code : error instanceof AssertionRefused ? error.message : 'ERR_INVALID_ASSERTION';
      return {
        ok: false,
        reason: 'invalid_assertion',
        error: errors.unauthenticated('The zero-trust identity assertion could not be verified.'),
        detail: `${assertion.via}: ${detail}`,
      };
    }
    const admin: AdminIdentity = { id: identity.email ?? identity.subject, name: identity.name ?? identity.email ?? identity.subject, via: assertion.via };
    if (!this.allowed(identity)) {
      return { ok: false, reason: 'admin_not_allowed', error: errors.adminNotAllowed(), detail: `${assertion.via}: ${admin.id}` };
    }
    return { ok: true, admin };
  }

  private allowed(identity: VerifiedIdentity): boolean {
    const { adminEmails, adminGroups } = this.config;
    if (identity.email !== undefined && adminEmails.includes(identity.email.toLowerCase())) return true;
    return identity.groups.some((group) => adminGroups.includes(group));
  }

  private async verifyCloudflare(jwt: string): Promise<VerifiedIdentity> {
    const { teamDomain, audience } = this.config.cloudflare!;
    const { payload } = await jwtVerify(jwt, this.cloudflareKeys!, {
      issuer: teamDomain,
      audience,
      // Access signs with RS256; listing it refuses `none`, HMAC and every other algorithm.
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    return identityOf(payload, 'groups');
  }

  /**
   * ALB quirk: the ALB writes each JWT segment base64url WITH `=` padding (RFC 7515 forbids
   * it) and signs the padded text. So the segments are handed to jose's flattenedVerify
   * exactly as received: the signing input it rebuilds (header + "." + payload) is then
   * byte for byte what the ALB signed. Stripping the padding first would break every
   * signature. The ALB's own claims (signer, exp) sit in the protected header.
   */
  private async verifyAlb(jwt: string): Promise<VerifiedIdentity> {
    const { signer } = this.config.alb!;
    const segments = jwt.split('.');
    if (segments.length !== 3) throw new AssertionRefused('not three segments');
    const [header, payload, signature] = segments as [string, string, string];
    const unverified = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid?: unknown };
    const kid = unverified.kid;
    if (typeof kid !== 'string' || !ALB_KID.test(kid)) throw new AssertionRefused('no usable kid');
    const key = await this.albKey(kid);
    const verified = await flattenedVerify(
      { protected: header, payload, signature: signature.replace(/=+$/, '') },
      key,
      { algorithms: ['ES256'] },
    );
    const protectedHeader = verified.protectedHeader as { signer?: unknown; exp?: unknown };
    if (protectedHeader.signer !== signer) throw new AssertionRefused('signed by another load balancer');
    const claims = JSON.parse(Buffer.from(verified.payload).toString('utf8')) as JWTPayload;
    const exp = typeof protectedHeader.exp === 'number' ? protectedHeader.exp : claims.exp;
    if (typeof exp !== 'number' || exp + CLOCK_TOLERANCE_S <= Date.now() / 1000) throw new AssertionRefused('ERR_JWT_EXPIRED');
    return identityOf(claims, 'cognito:groups');
  }

  /** The ALB's public key for `kid` (PEM at <keys url>/<kid>); a failed fetch is not cached. */
  private albKey(kid: string): Promise<CryptoKey> {
    const cached = this.albKeys.get(kid);
    if (cached !== undefined) return cached;
    const loading = (async () => {
      const response = await fetch(`${this.config.alb!.keysUrl}/${kid}`, { signal: AbortSignal.timeout(KEY_FETCH_TIMEOUT_MS) });
      if (!response.ok) throw new AssertionRefused(`ERR_UNKNOWN_KID (key server answered ${response.status})`);
      return importSPKI(await response.text(), 'ES256');
    })();
    this.albKeys.set(kid, loading);
    loading.catch(() => this.albKeys.delete(kid));
    return loading;
  }
}

function identityOf(claims: JWTPayload, groupsClaim: string): VerifiedIdentity {
  const subject = stringOf(claims.sub);
  if (subject === undefined) throw new AssertionRefused('no subject');
  return {
    subject,
    email: stringOf(claims.email),
    name: stringOf(claims.name),
    groups: [...stringsOf(claims.groups), ...stringsOf(claims[groupsClaim])],
  };
}
