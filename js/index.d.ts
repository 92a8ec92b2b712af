// Type declarations of itsclassified (hand-written; index.js is plain ESM, no build step).

/** A secret key: base64 text (standard or URL-safe, padded or not) or at least 32 raw bytes. */
export type Key = string | Uint8Array;
/** A moment: a Date or Unix seconds. */
export type When = Date | number | bigint;
/** What a token can carry. Integers outside the safe range load as bigint; maps with keys that are not all text load as Map. */
export type Payload =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Payload[]
  | Map<Payload, Payload>
  | { [key: string]: Payload | undefined };

/** A new secret key: 32 random bytes as 43 characters of unpadded base64url. */
export function generateKey(): string;

export interface SerializerOptions {
  /** Names the purpose of the tokens ("session", "password-reset"): a token never loads under another salt. */
  salt: string | Uint8Array;
  /** Seconds (rounded down), or null for tokens that never expire. Required: without it, loads refuses. */
  maxAge: number | bigint | null;
  /** How far in the future an issued-at may lie (clock skew), seconds. Default 60. */
  leeway?: number | bigint;
  /** The longest token made or accepted, in bytes; above 65536 acts as 65536. Default 8192. */
  maxTokenLen?: number;
}

/** What a token that loaded says about itself, verified. */
export interface TokenMeta {
  /** When it was issued (whole seconds); null past what a Date holds. */
  issuedAt: Date | null;
  issuedAtUnix: number | bigint;
  /** Its age in whole seconds when loaded (0 for a token from the future within the leeway). */
  age: number | bigint;
  /** The id of the key that opened it: 8 hex characters. */
  keyId: string;
  /** That key's position in the ring: 0 for the primary; above 0, reissue the token. */
  keyIndex: number;
  /** 22 characters of base64url, unique per token, public: what a revocation list records. */
  tokenId: string;
  /** issuedAt + maxAge + leeway: the last second any instance accepts it; null without expiry. */
  expiresAt: Date | null;
  expiresAtUnix: number | bigint | null;
}

export interface UntrustedHeader {
  version: number;
  keyId: string;
  issuedAt: Date | null;
  issuedAtUnix: number | bigint;
}

/** Reads a token's header WITHOUT a key and WITHOUT verifying anything. For debugging only. */
export function untrustedHeader(token: string): UntrustedHeader;

export class TimedSerializer {
  constructor(keys: Key | Key[], options: SerializerOptions);
  /** Key ids of the ring, primary first. */
  readonly keyIds: string[];
  readonly maxAge: number | null | undefined;
  readonly leeway: number;
  readonly maxTokenLen: number;
  dumps(value: Payload): string;
  dumpsAt(value: Payload, when: When): string;
  loads<T = any>(token: string): T;
  loadsAt<T = any>(token: string, now: When): T;
  loadsWithMeta<T = any>(token: string): { value: T; meta: TokenMeta };
  loadsWithMetaAt<T = any>(token: string, now: When): { value: T; meta: TokenMeta };
  /** Re-seals under the primary key with the same payload and issued-at (key rotation). */
  reissue(token: string): string;
  /** Replaces the key ring; a bad ring throws and the old one stays. */
  replaceKeys(keys: Key | Key[]): void;
}

export type RejectionKind =
  | 'TooLong'
  | 'Malformed'
  | 'UnsupportedVersion'
  | 'UnknownKey'
  | 'Invalid'
  | 'IssuedInFuture'
  | 'Expired'
  | 'Payload';

/** A token was refused. The base of every rejection. Messages are fixed text. */
export class BadToken extends Error {
  readonly kind: RejectionKind;
}
/** TooLong, Malformed, UnsupportedVersion, Invalid or Payload. */
export class InvalidToken extends BadToken {}
/** Expired or IssuedInFuture. */
export class TokenExpired extends BadToken {}
/** Made under a key that is not in the ring. */
export class UnknownKey extends BadToken {}
/** A configuration error, thrown when a serializer is built (or by loads without maxAge). */
export class ConfigError extends Error {
  readonly kind: 'SecretTooShort' | 'EmptyKeyRing' | 'DuplicateKeyId' | 'NotBase64' | 'MaxAgeNotSet' | string;
}
/** An encoder's refusal: the value is nested deeper than 128, or its token would be too long. */
export class EncodeError extends RangeError {
  readonly kind: 'TooDeep' | 'TooLong';
}
