// Bearer tokens checked against a revocation store (SPEC.md 10.5: issuance floor, checks).

import { BadToken, TokenRevoked } from './errors.js';
import { nowSeconds } from './serializer.js';
import { StoreUnavailable } from './store.js';

/**
 * A TimedSerializer for bearer tokens plus a revocation store. `subject(value)` names the user
 * of a token for "log out everywhere" (null: token-id checks only).
 */
export class BearerTokens {
  constructor(serializer, { store = null, subject = () => null } = {}) {
    this.serializer = serializer;
    this.store = store;
    this.subject = subject;
  }

  /** A token for `value`, issued at max(now, C + 1) under its subject's cutoff C. Throws StoreUnavailable. */
  async issue(value) {
    let issuedAt = nowSeconds();
    const subject = this.store ? this.subject(value) ?? null : null;
    if (subject !== null) {
      const c = await this.store.cutoff(subject);
      if (c !== null && c + 1n > issuedAt) issuedAt = c + 1n;
    }
    return this.serializer.dumpsAt(value, issuedAt);
  }

  /**
   * `{ value, meta }` of a token that loads and is not revoked. Throws a BadToken (TokenRevoked
   * included: answer 401) or StoreUnavailable (answer 503, never 401).
   */
  async verify(token) {
    const loaded = this.serializer.loadsWithMeta(token);
    if (this.store) {
      const subject = this.subject(loaded.value) ?? null;
      if (await this.store.isTokenRevoked(loaded.meta.tokenId, subject, BigInt(loaded.meta.issuedAtUnix))) {
        throw new TokenRevoked();
      }
    }
    return loaded;
  }

  /** Revokes one token (by its id) until it would expire anyway. */
  async revoke(meta) {
    if (!this.store) return;
    if (meta.expiresAtUnix === null) throw new RangeError('a token without expiry cannot be revoked for a bounded time');
    await this.store.revokeToken(meta.tokenId, meta.expiresAtUnix);
  }
}

/** The token of an `Authorization: Bearer <token>` header: undefined without one. */
export function bearerToken(authorization) {
  if (typeof authorization !== 'string') return undefined;
  const m = /^bearer[ \t]+(.*)$/is.exec(authorization.trim());
  return m ? m[1].trim() : undefined;
}

export { BadToken, StoreUnavailable };
