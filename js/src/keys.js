// Secrets and their derivation (SPEC.md section 1): HKDF-SHA256, a key id per secret and a
// subkey per (secret, salt).

import { extract, expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ConfigError } from './errors.js';
import { decodeKey, encode as b64encode } from './base64url.js';

const utf8 = new TextEncoder();
const LABEL = utf8.encode('itsclassified/v1');
const KID_INFO = utf8.encode('itsclassified/v1 kid');
const ENC_PREFIX = utf8.encode('itsclassified/v1 enc ');

/** A new secret key: 32 bytes from the CSPRNG as 43 characters of unpadded base64url. */
export function generateKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const text = b64encode(bytes);
  bytes.fill(0);
  return text;
}

/** The salt as bytes: text is its UTF-8 (SPEC.md 1.1). */
export function saltBytes(salt) {
  if (typeof salt === 'string') return utf8.encode(salt);
  if (salt instanceof Uint8Array) return salt.slice();
  throw new TypeError('salt must be a string or a Uint8Array');
}

/** @param {string | Uint8Array} key */
function secretBytes(key) {
  if (typeof key === 'string') {
    const b = decodeKey(key);
    if (b === null) throw new ConfigError('NotBase64');
    return b;
  }
  if (key instanceof Uint8Array) return key.slice();
  throw new TypeError('a key must be a base64 string or a Uint8Array');
}

/**
 * A derived key ring entry. The secret itself is not kept: only its key id and subkey.
 * @typedef {{ id: number, idHex: string, subkey: Uint8Array }} RingKey
 */

/**
 * Builds the ring: primary first. The configuration errors come in SPEC.md 1.3's order: every
 * secret is taken (and its length checked) before any is derived, so the first short secret is
 * reported even after a duplicate (`[A, A, short]` is SecretTooShort); then an empty ring; then
 * the first secret whose key id repeats one before it.
 * @returns {RingKey[]}
 */
export function buildRing(keys, salt) {
  const list = typeof keys === 'string' || keys instanceof Uint8Array ? [keys] : keys;
  if (!Array.isArray(list)) throw new TypeError('keys must be a key (base64 string or Uint8Array) or an array of keys');
  const s = saltBytes(salt);
  const info = new Uint8Array(ENC_PREFIX.length + s.length);
  info.set(ENC_PREFIX);
  info.set(s, ENC_PREFIX.length);
  const secrets = [];
  try {
    for (const key of list) {
      const secret = secretBytes(key);
      secrets.push(secret);
      if (secret.length < 32) throw new ConfigError('SecretTooShort');
    }
    if (secrets.length === 0) throw new ConfigError('EmptyKeyRing');
    const ring = [];
    for (const secret of secrets) {
      const prk = extract(sha256, secret, LABEL);
      const kid = expand(sha256, prk, KID_INFO, 4);
      const id = ((kid[0] << 24) | (kid[1] << 16) | (kid[2] << 8) | kid[3]) >>> 0;
      if (ring.some((k) => k.id === id)) {
        prk.fill(0);
        for (const k of ring) k.subkey.fill(0);
        throw new ConfigError('DuplicateKeyId');
      }
      const subkey = expand(sha256, prk, info, 32);
      prk.fill(0);
      ring.push({ id, idHex: id.toString(16).padStart(8, '0'), subkey });
    }
    return ring;
  } finally {
    for (const secret of secrets) secret.fill(0);
  }
}
