// Errors. Every message is fixed text: none ever holds a token, a payload or key material.

/** Messages of the eight rejection kinds of SPEC.md section 6.2. */
const MESSAGES = {
  TooLong: 'token is longer than the maximum length',
  Malformed: 'token is not canonical base64url or is too short',
  UnsupportedVersion: 'token has an unsupported version',
  UnknownKey: 'token was made under a key that is not in the key ring',
  Invalid: 'token failed authentication',
  IssuedInFuture: 'token is issued too far in the future',
  Expired: 'token has expired',
  Payload: 'token payload is not acceptable',
};

/** A token was refused. The base of every rejection; `kind` names which of SPEC.md 6.2. */
export class BadToken extends Error {
  constructor(kind) {
    super(MESSAGES[kind] ?? 'token refused');
    this.name = new.target.name;
    /** @type {string} */
    this.kind = kind;
  }
}
/** Too long, malformed, of an unknown version, altered/forged/for another salt, or a bad payload. */
export class InvalidToken extends BadToken {}
/** Authentic, but older than maxAge or issued further in the future than the leeway allows. */
export class TokenExpired extends BadToken {}
/** Made under a key that is not in the key ring (removed, or another service's). */
export class UnknownKey extends BadToken {}

/** @param {string} kind */
export function rejection(kind) {
  if (kind === 'Expired' || kind === 'IssuedInFuture') return new TokenExpired(kind);
  if (kind === 'UnknownKey') return new UnknownKey(kind);
  return new InvalidToken(kind);
}

const CONFIG_MESSAGES = {
  SecretTooShort: 'a secret key must be at least 32 bytes',
  EmptyKeyRing: 'the key ring has no key',
  DuplicateKeyId: 'two keys of the ring have the same key id (the same key listed twice?)',
  NotBase64: 'a key is not valid base64',
  MaxAgeNotSet: 'maxAge is required: a number of seconds, or null for tokens that never expire',
};

/** A configuration error (SPEC.md 1.3, 6.1): reported when a serializer is built, never by loads. */
export class ConfigError extends Error {
  constructor(kind, message) {
    super(message ?? CONFIG_MESSAGES[kind] ?? 'invalid configuration');
    this.name = 'ConfigError';
    this.kind = kind;
  }
}

/** An encoder's refusal (SPEC.md 5): `TooLong` or `TooDeep`. */
export class EncodeError extends RangeError {
  constructor(kind) {
    super(
      kind === 'TooDeep'
        ? 'value is nested deeper than 128 levels'
        : 'token would be longer than the maximum length',
    );
    this.name = 'EncodeError';
    this.kind = kind;
  }
}

/** Authentic and unexpired, but revoked (logout, or "log out everywhere" of its subject). */
export class TokenRevoked extends BadToken {
  constructor() {
    super('Revoked');
    this.message = 'token has been revoked';
  }
}
