// itsclassified: encrypted, expiring, URL-safe tokens and cookie sessions (SPEC.md v1).
export { generateKey } from './src/keys.js';
export { TimedSerializer, untrustedHeader } from './src/serializer.js';
export { BadToken, InvalidToken, TokenExpired, UnknownKey, ConfigError, EncodeError } from './src/errors.js';
export { SessionManager, Session, TooManyChunks, StoreUnavailable } from './src/session.js';
export { MemoryStore, RedisStore, subjectHash } from './src/store.js';
export { BearerTokens, bearerToken } from './src/bearer.js';
export { TokenRevoked } from './src/errors.js';
export { Float64 } from './src/msgpack.js';
export { withSession, finishResponse } from './src/web.js';
export { expressSession, getSession } from './src/node.js';
export { session as honoSession } from './src/hono.js';
export { ironSessionMigration } from './src/iron.js';
