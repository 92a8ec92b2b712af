// Type declarations of itsclassified (hand-written; index.js is plain ESM, no build step).

/** A secret key: base64 text (standard or URL-safe, padded or not) or at least 32 raw bytes. */
export type Key = string | Uint8Array;
/** A moment: a Date or Unix seconds. */
export type When = Date | number | bigint;
/**
 * What a token can carry. A number is an integer when it is a safe integer other than -0, else a
 * float 64; `Float64` forces a float 64 (`new Float64(1)` is the float 1.0). Integers outside the
 * safe range load as bigint, floats load as plain numbers; maps with keys that are not all text
 * load as Map.
 */
export type Payload =
  | null
  | boolean
  | number
  | Float64
  | bigint
  | string
  | Uint8Array
  | PayloadArray
  | PayloadMap
  | PayloadObject;
export interface PayloadArray extends Array<Payload> {}
export interface PayloadMap extends Map<Payload, Payload> {}
export interface PayloadObject {
  [key: string]: Payload | undefined;
}

/**
 * An explicit float 64 (SPEC.md 3.1, "Numbers"). A plain number that is a safe integer is written
 * as an integer (`1` and `1.0` are the same number, written `01`); `new Float64(1)` is written as
 * the float 64 1.0 (`cb 3f f0 00 00 00 00 00 00`), as Rust's `f64` or Python's `float` writes it.
 * NaN is written as the one quiet NaN. Loading gives floats back as plain numbers.
 */
export class Float64 {
  /** @throws TypeError when `value` is not a number. */
  constructor(value: number);
  readonly value: number;
  valueOf(): number;
  toJSON(): number;
}

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

// ---- sessions (SPEC.md section 10) --------------------------------------------------------------

/** A revocation store (SPEC.md 10.5, 10.6). Every method throws StoreUnavailable when it cannot answer. */
export interface RevocationStore {
  revokeToken(tokenId: string, expiresAtUnix: number | bigint): Promise<void>;
  revokeSession(sessionId: string, untilUnix: number | bigint): Promise<void>;
  revokeSubjectAt(subject: string, cutoff: number | bigint, retain?: number): Promise<void>;
  /** "Log out everywhere": cutoff C = now + margin; returns C. */
  revokeSubject(subject: string, retain?: number): Promise<bigint>;
  cutoff(subject: string): Promise<bigint | null>;
  isSessionRevoked(sessionId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
  isTokenRevoked(tokenId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
}

export interface StoreOptions {
  /** Seconds added to now for a subject cutoff (default 30; must be below the leeway). */
  margin?: number;
  /** Seconds a cutoff is kept after C: the longest maxAge + leeway of the tokens checked. */
  retain?: number;
  /** Milliseconds since 1970 (tests). */
  clock?: () => number;
}

/** Revocations in this process only. */
export class MemoryStore implements RevocationStore {
  constructor(options?: StoreOptions);
  revokeToken(tokenId: string, expiresAtUnix: number | bigint): Promise<void>;
  revokeSession(sessionId: string, untilUnix: number | bigint): Promise<void>;
  revokeSubjectAt(subject: string, cutoff: number | bigint, retain?: number): Promise<void>;
  revokeSubject(subject: string, retain?: number): Promise<bigint>;
  cutoff(subject: string): Promise<bigint | null>;
  isSessionRevoked(sessionId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
  isTokenRevoked(tokenId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
}

/** Revocations in Redis, in the layout shared with the Rust crate and the Python package. */
export class RedisStore implements RevocationStore {
  /** client: a connected node-redis client (createClient()) or an ioredis client. */
  constructor(client: unknown, options?: StoreOptions & { prefix?: string; timeoutMs?: number; onError?: (e: unknown) => void });
  readonly prefix: string;
  revokeToken(tokenId: string, expiresAtUnix: number | bigint): Promise<void>;
  revokeSession(sessionId: string, untilUnix: number | bigint): Promise<void>;
  revokeSubjectAt(subject: string, cutoff: number | bigint, retain?: number): Promise<void>;
  revokeSubject(subject: string, retain?: number): Promise<bigint>;
  cutoff(subject: string): Promise<bigint | null>;
  isSessionRevoked(sessionId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
  isTokenRevoked(tokenId: string, subject: string | null, issuedAt: number | bigint): Promise<boolean>;
}

/** The 43-character subject hash of the Redis layout. */
export function subjectHash(subject: string): string;

/** The revocation store could not answer: fail closed, answer 503 with Retry-After (never 401). */
export class StoreUnavailable extends Error {}
/** The session does not fit in maxChunks cookies: answer 500 with no Set-Cookie. */
export class TooManyChunks extends Error {}
/** Authentic and unexpired, but revoked. */
export class TokenRevoked extends BadToken {}

export interface IronSessionMigration {
  readonly cookieName: string;
  active(nowUnix: number): boolean;
  unseal(seal: string): Promise<Record<string, unknown> | null>;
}
/** Reads iron-session (Fe26.2) cookies until `sunset`; needs the optional dependency iron-webcrypto. */
export function ironSessionMigration(options: {
  cookieName: string;
  password: string | Record<string, string>;
  sunset: Date;
  ttl?: number;
}): Promise<IronSessionMigration>;

export interface SessionOptions<T = any> {
  salt?: string | Uint8Array;
  /** Seconds, >= 1. Default 86400. */
  maxAge?: number;
  leeway?: number;
  absoluteLifetime?: number | null;
  /** Sliding renewal threshold (< maxAge); needs absoluteLifetime. */
  renewAfter?: number | null;
  /** 1 to 16; default 1. */
  maxChunks?: number;
  /** Default __Host-session when the cookie qualifies, else session. */
  cookieName?: string;
  secure?: boolean;
  sameSite?: 'Lax' | 'Strict' | 'None';
  path?: string;
  domain?: string;
  partitioned?: boolean;
  fallbackReseal?: boolean;
  store?: RevocationStore | null;
  /** The user a session belongs to, for "log out everywhere". */
  subject?: (value: T) => string | null | undefined;
  migrateFrom?: IronSessionMigration | null;
}

/** One request's session. */
export class Session<T = any> {
  readonly loaded: boolean;
  /** The store could not be asked: answer 503. */
  readonly unavailable: boolean;
  readonly migrated: boolean;
  /** The session id (22 characters), or null. */
  readonly id: string | null;
  readonly start: bigint | null;
  readonly issuedAt: bigint | null;
  readonly age: bigint | null;
  readonly keyIndex: number | null;
  readonly isEmpty: boolean;
  get(): T | null;
  set(value: T): void;
  clear(): void;
  /** Revokes the session id, then clears; throws StoreUnavailable when it cannot be recorded. */
  logout(options?: { now?: When }): Promise<void>;
  /** Express only: commits before streaming. */
  commit?: () => Promise<void>;
}

export interface CommitOutcome {
  setCookie: string[];
  cacheControl: string | null;
  vary: boolean;
}

/** The session configuration; one per application. */
export class SessionManager<T = any> {
  constructor(keys: Key | Key[], options?: SessionOptions<T>);
  readonly name: string;
  readonly serializer: TimedSerializer;
  replaceKeys(keys: Key | Key[]): void;
  load(cookieHeader: string | string[] | null | undefined, options?: { now?: When }): Promise<Session<T>>;
  /** Throws TooManyChunks or EncodeError (answer 500) and StoreUnavailable (answer 503). */
  commit(session: Session<T>, response?: { status?: number; cacheControl?: string | null; now?: When }): Promise<CommitOutcome>;
}

/** Bearer tokens with the revocation checks and issuance floor of SPEC.md 10.5. */
export class BearerTokens<T = any> {
  constructor(serializer: TimedSerializer, options?: { store?: RevocationStore | null; subject?: (value: T) => string | null | undefined });
  readonly serializer: TimedSerializer;
  issue(value: T): Promise<string>;
  /** Throws BadToken (TokenRevoked included: 401) or StoreUnavailable (503). */
  verify(token: string): Promise<{ value: T; meta: TokenMeta }>;
  revoke(meta: TokenMeta): Promise<void>;
}
/** The token of an `Authorization: Bearer` header value, or undefined. */
export function bearerToken(authorization: string | null | undefined): string | undefined;

/** Wraps a fetch-style handler with a session (Next.js route handlers, Workers, Deno, Bun). */
export function withSession<T = any, R extends unknown[] = unknown[]>(
  manager: SessionManager<T>,
  handler: (request: Request, session: Session<T>, ...rest: R) => Response | Promise<Response>,
  options?: { log?: (message: string) => void },
): (request: Request, ...rest: R) => Promise<Response>;
/** Applies a session's outcome to a Response (or answers 500/503). */
export function finishResponse<T>(manager: SessionManager<T>, session: Session<T>, response: Response, log?: (message: string) => void): Promise<Response>;

/** Hono middleware: c.get('session') is the Session. */
export function honoSession<T = any>(manager: SessionManager<T>, options?: { key?: string; log?: (message: string) => void }): (c: any, next: () => Promise<void>) => Promise<Response | void>;
/** Express middleware: req.session is the Session. */
export function expressSession<T = any>(manager: SessionManager<T>, options?: { log?: (message: string) => void }): (req: any, res: any, next: (err?: unknown) => void) => Promise<void>;

/** The session as a plain object with save(), destroy() and logout(), as iron-session's. */
export type SessionObject<T extends object> = Partial<T> & {
  save(): Promise<void>;
  destroy(): Promise<void>;
  logout(): Promise<void>;
  readonly id: string | null;
};
export interface CookieStoreLike {
  get(name: string): { name: string; value: string } | undefined;
  getAll(): { name: string; value: string }[];
  set(name: string, value: string, options?: Record<string, unknown>): unknown;
}
type GetSessionOptions = ({ keys: Key | Key[] } & SessionOptions) | { manager: SessionManager } | SessionManager;
export function getSession<T extends object = Record<string, unknown>>(cookieStore: CookieStoreLike, options: GetSessionOptions): Promise<SessionObject<T>>;
export function getSession<T extends object = Record<string, unknown>>(req: { headers: { cookie?: string } }, res: { setHeader(name: string, value: unknown): unknown; getHeader(name: string): unknown }, options: GetSessionOptions): Promise<SessionObject<T>>;
