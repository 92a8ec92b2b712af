// Migration from iron-session: read its Fe26.2 seals until a sunset date, and re-seal them as
// itsclassified sessions. Needs the optional dependency iron-webcrypto (what iron-session uses).

const MAX_SEAL = 4096;

/**
 * const migrateFrom = await ironSessionMigration({ cookieName: 'myapp', password, sunset: new Date('2027-06-30') });
 * new SessionManager(keys, { migrateFrom, ... });
 *
 * A request without an itsclassified session but with a valid iron-session cookie gets that
 * session's data as a new itsclassified session (a new session id, written on this response),
 * and the iron-session cookie is removed. From `sunset` on, iron-session cookies are ignored: the
 * users who did not come back by then log in again. `password` is iron-session's (a string or
 * its { id: password } map); `ttl` its ttl in seconds (default 14 days, as iron-session's).
 */
export async function ironSessionMigration({ cookieName, password, sunset, ttl = 14 * 24 * 3600 }) {
  if (typeof cookieName !== 'string' || !cookieName) throw new TypeError('cookieName: the iron-session cookie name is required');
  if (!password) throw new TypeError('password: the iron-session password is required');
  if (!(sunset instanceof Date) || Number.isNaN(sunset.getTime())) throw new TypeError('sunset must be a Date: the day iron-session cookies stop being read');
  let iron;
  try {
    iron = await import('iron-webcrypto');
  } catch {
    throw new Error('ironSessionMigration needs the optional dependency iron-webcrypto: npm install iron-webcrypto');
  }
  const passwords = typeof password === 'string' ? { 1: password } : password;
  const sunsetSeconds = Math.floor(sunset.getTime() / 1000);
  return {
    cookieName,
    /** Whether legacy cookies are still read at `now` (Unix seconds). */
    active: (now) => now < sunsetSeconds,
    /** The data of an iron-session seal, or null (invalid, expired, or empty). Never throws. */
    async unseal(seal) {
      if (typeof seal !== 'string' || seal.length > MAX_SEAL || !seal.startsWith('Fe26.2*')) return null;
      const [sealWithoutVersion, version] = seal.split('~');
      try {
        const data = await iron.unseal(globalThis.crypto, sealWithoutVersion, passwords, { ...iron.defaults, ttl: ttl * 1000 });
        const value = version === '2' ? data : data?.persistent;
        if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return null;
        return value;
      } catch {
        return null;
      }
    },
  };
}
