// Tokens (SPEC.md sections 2-6): TimedSerializer, untrustedHeader.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { buildRing } from './keys.js';
import { encode as b64encode, decodeCanonical } from './base64url.js';
import { encode as mpEncode, decode as mpDecode, TooDeepSignal, PayloadSignal } from './msgpack.js';
import { rejection, ConfigError, EncodeError, InvalidToken } from './errors.js';

const VERSION = 1;
const HEADER = 13;
const NONCE = 24;
const TAG = 16;
const MIN_RAW = HEADER + NONCE + TAG; // 53
const ABSOLUTE_MAX_LEN = 65536;
const U64_MAX = (1n << 64n) - 1n;
const I63_MAX = (1n << 63n) - 1n;
const MAX_DATE_SECONDS = 8640000000000n;

// Nonces come from a pool filled by the CSPRNG 64 nonces at a time: crypto.getRandomValues costs
// about as much for 24 bytes as for 1536, and each byte of the pool is used once, in order.
const POOL = new Uint8Array(NONCE * 64);
let poolPos = POOL.length;
function freshNonce() {
  if (poolPos === POOL.length) {
    crypto.getRandomValues(POOL);
    poolPos = 0;
  }
  const n = POOL.slice(poolPos, poolPos + NONCE);
  POOL.fill(0, poolPos, poolPos + NONCE);
  poolPos += NONCE;
  return n;
}
export { freshNonce };

/** Whole seconds >= 0 as bigint from a number (rounded down) or a bigint. */
export function toSeconds(value, what) {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw new RangeError(`${what} must be from 0 to 2**64 - 1 seconds`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${what} must be a finite number of seconds >= 0`);
  }
  const s = BigInt(Math.floor(value));
  if (s > U64_MAX) throw new RangeError(`${what} must be from 0 to 2**64 - 1 seconds`);
  return s;
}

/** A moment (Date or Unix seconds) as whole Unix seconds (bigint), refusing times before 1970. */
export function toUnix(when, what) {
  if (when instanceof Date) {
    const ms = when.getTime();
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${what} is out of range (before 1970 or invalid)`);
    return BigInt(Math.floor(ms / 1000));
  }
  if (typeof when === 'number' || typeof when === 'bigint') return toSeconds(when, what);
  throw new TypeError(`${what} must be a Date or Unix seconds`);
}

export function nowSeconds() {
  const ms = Date.now();
  if (!(ms >= 0)) throw new RangeError('the clock is before 1970');
  return BigInt(Math.floor(ms / 1000));
}

function toDate(seconds) {
  return seconds <= MAX_DATE_SECONDS ? new Date(Number(seconds) * 1000) : null;
}
function toNumberish(b) {
  return b <= 9007199254740991n ? Number(b) : b;
}

/** Length of the UTF-8 encoding of `s`, stopping once it exceeds `limit`. */
function utf8LengthOver(s, limit) {
  if (s.length > limit) return true;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
    if (n > limit) return true;
  }
  return false;
}

function readU64(raw, off) {
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getBigUint64(off);
}

/** Steps 1-3 of SPEC.md 6.1: the raw token, or a rejection. */
function parse(token, maxLen) {
  if (typeof token !== 'string') throw new TypeError('a token must be a string');
  if (utf8LengthOver(token, maxLen)) throw rejection('TooLong');
  const raw = decodeCanonical(token);
  if (raw === null || raw.length < MIN_RAW) throw rejection('Malformed');
  if (raw[0] !== VERSION) throw rejection('UnsupportedVersion');
  return raw;
}

/**
 * The clear-text header of a token, read WITHOUT a key and WITHOUT verifying anything. For
 * debugging only: anyone can write any value into these fields. Throws InvalidToken for a string
 * that is not a token of a known version.
 * @param {string} token
 */
export function untrustedHeader(token) {
  const raw = parse(token, ABSOLUTE_MAX_LEN);
  const id = ((raw[1] << 24) | (raw[2] << 16) | (raw[3] << 8) | raw[4]) >>> 0;
  const issued = readU64(raw, 5);
  return {
    version: raw[0],
    keyId: id.toString(16).padStart(8, '0'),
    issuedAt: toDate(issued),
    issuedAtUnix: toNumberish(issued),
  };
}

/**
 * Encrypted, authenticated, expiring URL-safe tokens (SPEC.md v1).
 *
 * keys: a base64 string (standard or URL-safe alphabet, padded or not) or a Uint8Array of at
 * least 32 bytes, or an array of them, primary first. options.salt names the purpose;
 * options.maxAge (required) is seconds, or null for tokens that never expire.
 */
export class TimedSerializer {
  #ring;
  #salt;
  #maxAge; // bigint | null | undefined (not set: loads refuses)
  #leeway;
  #maxLen;

  constructor(keys, options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { salt, maxAge, leeway = 60, maxTokenLen = 8192 } = options;
    if (salt === undefined) throw new TypeError('options.salt is required: a string or Uint8Array naming the purpose of the tokens');
    this.#salt = salt;
    this.#ring = buildRing(keys, salt);
    this.#maxAge = maxAge === undefined ? undefined : maxAge === null ? null : toSeconds(maxAge, 'maxAge');
    this.#leeway = toSeconds(leeway, 'leeway');
    if (typeof maxTokenLen !== 'number' || !Number.isInteger(maxTokenLen) || maxTokenLen < 0) {
      throw new RangeError('maxTokenLen must be an integer >= 0');
    }
    this.#maxLen = Math.min(maxTokenLen, ABSOLUTE_MAX_LEN);
  }

  /** The key ids of the ring, primary first, as 8 hex characters. */
  get keyIds() {
    return this.#ring.map((k) => k.idHex);
  }
  /** maxAge in seconds (a number), null in no-expiry mode, undefined when not set. */
  get maxAge() {
    return this.#maxAge == null ? this.#maxAge : Number(this.#maxAge);
  }
  get leeway() {
    return Number(this.#leeway);
  }
  /** The effective maximum token length (after the clamp at 65536). */
  get maxTokenLen() {
    return this.#maxLen;
  }

  /** Replaces the key ring (rotation), keeping the salt and times. Refuses a bad ring and keeps the old one. */
  replaceKeys(keys) {
    this.#ring = buildRing(keys, this.#salt);
  }

  /** A token for `value`, issued now. */
  dumps(value) {
    return this.dumpsAt(value, nowSeconds());
  }

  /** A token for `value`, issued at `when` (a Date or Unix seconds, rounded down). */
  dumpsAt(value, when) {
    const issuedAt = toUnix(when, 'when');
    let plaintext;
    try {
      plaintext = mpEncode(value);
    } catch (e) {
      if (e instanceof TooDeepSignal) throw new EncodeError('TooDeep');
      throw e;
    }
    return this._seal(plaintext, issuedAt, freshNonce());
  }

  /** The payload of `token`, or a BadToken. */
  loads(token) {
    return this.#payload(this._open(token, nowSeconds()));
  }

  /** The payload of `token` as if the time were `now` (a Date or Unix seconds). */
  loadsAt(token, now) {
    return this.#payload(this._open(token, toUnix(now, 'now')));
  }

  #payload(opened) {
    try {
      return mpDecode(opened.plaintext);
    } catch (e) {
      if (e instanceof PayloadSignal) throw rejection('Payload');
      throw e;
    }
  }

  /** `{ value, meta }`: the payload and what the token verifiably says about itself. */
  loadsWithMeta(token) {
    return this.loadsWithMetaAt(token, nowSeconds());
  }

  loadsWithMetaAt(token, now) {
    const opened = this._open(token, toUnix(now, 'now'));
    return { value: this.#payload(opened), meta: this._meta(opened) };
  }

  /** The same payload and issued-at sealed under the primary key with a fresh nonce (SPEC.md 6.5). */
  reissue(token) {
    const opened = this._open(token, nowSeconds());
    return this._seal(opened.plaintext, opened.issuedAt, freshNonce());
  }

  /** @internal Seals a plaintext (SPEC.md 5 steps 2, 4, 5). */
  _seal(plaintext, issuedAt, nonce) {
    const rawLen = MIN_RAW + plaintext.length;
    if (Math.ceil((4 * rawLen) / 3) > this.#maxLen) throw new EncodeError('TooLong');
    const key = this.#ring[0];
    const raw = new Uint8Array(rawLen);
    const view = new DataView(raw.buffer);
    raw[0] = VERSION;
    view.setUint32(1, key.id);
    view.setBigUint64(5, issuedAt);
    raw.set(nonce, HEADER);
    const sealed = xchacha20poly1305(key.subkey, nonce, raw.subarray(0, HEADER)).encrypt(plaintext);
    raw.set(sealed, HEADER + NONCE);
    return b64encode(raw);
  }

  /** @internal Steps 1-7 of SPEC.md 6.1; the plaintext is not yet decoded. */
  _open(token, now) {
    if (this.#maxAge === undefined) throw new ConfigError('MaxAgeNotSet');
    const raw = parse(token, this.#maxLen);
    const id = ((raw[1] << 24) | (raw[2] << 16) | (raw[3] << 8) | raw[4]) >>> 0;
    const keyIndex = this.#ring.findIndex((k) => k.id === id);
    if (keyIndex < 0) throw rejection('UnknownKey');
    const key = this.#ring[keyIndex];
    let plaintext;
    try {
      // Copies, not views: noble's ChaCha takes a slow path for data at an unaligned offset.
      plaintext = xchacha20poly1305(key.subkey, raw.slice(HEADER, HEADER + NONCE), raw.slice(0, HEADER)).decrypt(
        raw.slice(HEADER + NONCE),
      );
    } catch {
      throw rejection('Invalid');
    }
    const issuedAt = readU64(raw, 5);
    let age = 0n;
    if (issuedAt > now) {
      if (issuedAt - now > this.#leeway) throw rejection('IssuedInFuture');
    } else {
      age = now - issuedAt;
    }
    if (this.#maxAge !== null && age > this.#maxAge) throw rejection('Expired');
    return { plaintext, issuedAt, age, keyIndex, key, tokenId: raw.subarray(HEADER, HEADER + 16), now };
  }

  /** @internal */
  _meta(opened) {
    let expires = null;
    if (this.#maxAge !== null) {
      const sum = opened.issuedAt + this.#maxAge + this.#leeway;
      if (sum <= I63_MAX) expires = sum;
    }
    return {
      issuedAt: toDate(opened.issuedAt),
      issuedAtUnix: toNumberish(opened.issuedAt),
      age: toNumberish(opened.age),
      keyId: opened.key.idHex,
      keyIndex: opened.keyIndex,
      tokenId: b64encode(opened.tokenId),
      expiresAt: expires === null ? null : toDate(expires),
      expiresAtUnix: expires === null ? null : toNumberish(expires),
    };
  }

  /** @internal for the session layer. */
  get _maxAgeSeconds() {
    return this.#maxAge;
  }
  get _leewaySeconds() {
    return this.#leeway;
  }

  toString() {
    return `TimedSerializer(keyIds=[${this.keyIds.join(', ')}], maxAge=${this.maxAge}, keys redacted)`;
  }
  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }
}

export { InvalidToken };
