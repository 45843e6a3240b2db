import type { AuthRefusal } from './auth.service.js';
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
