// Sessions (SPEC.md section 10), framework-neutral: a Cookie header in, Set-Cookie lines out.

import { TimedSerializer, toSeconds, nowSeconds, toUnix, freshNonce } from './serializer.js';
import { encodeEnvelope, decodeEnvelope, PayloadSignal, TooDeepSignal } from './msgpack.js';
import { encode as b64encode } from './base64url.js';
import { BadToken, EncodeError } from './errors.js';
import { readCookies, attributes, removalLine, tokenLines, TooManyChunks } from './cookies.js';
import { StoreUnavailable } from './store.js';

export { TooManyChunks, StoreUnavailable };

const NOT_COUNTED = new Set(['TooLong', 'Malformed', 'UnsupportedVersion', 'UnknownKey']);
const AEAD_BUDGET = 4;

function max(a, b) {
  return a > b ? a : b;
}

/**
 * The session configuration and its serializer: build one per application.
 *
 * keys as for TimedSerializer. options: salt ('session-cookie'), maxAge (86400 s), leeway (60),
 * absoluteLifetime (none), renewAfter (none; needs absoluteLifetime, < maxAge), maxChunks (1,
 * up to 16), cookieName (`__Host-session` when the cookie qualifies, else `session`), secure
 * (true), sameSite ('Lax'), path ('/'), domain, partitioned (false), fallbackReseal (true),
 * store (a MemoryStore or RedisStore), subject (value => user id or null, for "log out
 * everywhere").
 */
export class SessionManager {
  constructor(keys, options = {}) {
    const o = options;
    this.maxAge = toSeconds(o.maxAge ?? 86400, 'maxAge');
    if (this.maxAge < 1n) throw new RangeError('a session maxAge must be at least 1 second');
    this.leeway = toSeconds(o.leeway ?? 60, 'leeway');
    this.lifetime = o.absoluteLifetime == null ? null : toSeconds(o.absoluteLifetime, 'absoluteLifetime');
    if (this.lifetime !== null && this.lifetime < 1n) throw new RangeError('absoluteLifetime must be at least 1 second');
    this.renewAfter = o.renewAfter == null ? null : toSeconds(o.renewAfter, 'renewAfter');
    if (this.renewAfter !== null) {
      if (this.lifetime === null) throw new RangeError('renewAfter needs an absoluteLifetime: sliding renewal without one would keep a session for ever');
      if (this.renewAfter >= this.maxAge) throw new RangeError('renewAfter must be less than maxAge');
    }
    this.maxChunks = o.maxChunks ?? 1;
    if (!Number.isInteger(this.maxChunks) || this.maxChunks < 1 || this.maxChunks > 16) throw new RangeError('maxChunks must be an integer from 1 to 16');
    this.maxLen = Math.min(65536, 4096 * this.maxChunks);
    this.cookie = {
      secure: o.secure ?? true,
      sameSite: o.sameSite ?? 'Lax',
      path: o.path ?? '/',
      domain: o.domain ?? null,
      partitioned: o.partitioned ?? false,
    };
    const c = this.cookie;
    if (!['Lax', 'Strict', 'None'].includes(c.sameSite)) throw new RangeError("sameSite must be 'Lax', 'Strict' or 'None'");
    if (c.sameSite === 'None' && !c.secure) throw new RangeError('SameSite=None needs Secure');
    if (c.partitioned && !c.secure) throw new RangeError('Partitioned needs Secure');
    const qualifies = c.secure && c.path === '/' && !c.domain;
    this.name = o.cookieName ?? (qualifies ? '__Host-session' : 'session');
    if (this.name.startsWith('__Host-') && !qualifies) throw new RangeError('a __Host- cookie needs Secure, Path=/ and no Domain');
    if (this.name.startsWith('__Secure-') && !c.secure) throw new RangeError('a __Secure- cookie needs Secure');
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(this.name)) throw new RangeError('the cookie name is not a valid token');
    this.fallbackReseal = o.fallbackReseal ?? true;
    /** From ironSessionMigration(): iron-session cookies read until the sunset. */
    this.migrateFrom = o.migrateFrom ?? null;
    this.store = o.store ?? null;
    this.subject = o.subject ?? (() => null);
    this.serializer = new TimedSerializer(keys, {
      salt: o.salt ?? 'session-cookie',
      maxAge: this.maxAge,
      leeway: this.leeway,
      maxTokenLen: this.maxLen,
    });
  }

  /** Replaces the key ring (rotation); a bad ring throws and the old one stays. */
  replaceKeys(keys) {
    this.serializer.replaceKeys(keys);
  }

  /**
   * Reads the session of a request from its Cookie header field(s). Never throws for what the
   * client sent; when the store cannot answer, the session is `unavailable` (answer 503).
   * @param {string | string[] | null | undefined} cookieHeader
   * @param {{ now?: Date | number }} [opts]
   */
  async load(cookieHeader, opts = {}) {
    const now = opts.now === undefined ? nowSeconds() : toUnix(opts.now, 'now');
    const { candidates, seen } = readCookies(cookieHeader, this.name, this.maxChunks, this.maxLen);
    const session = new Session(this, seen, now);
    let counted = 0;
    for (const candidate of candidates) {
      if (counted >= AEAD_BUDGET) break;
      let opened;
      try {
        opened = this.serializer._open(candidate, now);
      } catch (e) {
        if (!(e instanceof BadToken)) throw e;
        if (!NOT_COUNTED.has(e.kind)) counted++;
        continue;
      }
      counted++;
      let env;
      try {
        env = decodeEnvelope(opened.plaintext);
      } catch (e) {
        if (e instanceof PayloadSignal) continue;
        throw e;
      }
      if (this.lifetime !== null && now > env.start && now - env.start > this.lifetime) continue;
      session._loaded(env, opened);
      break;
    }
    if (!session.loaded && this.migrateFrom && this.migrateFrom.active(Number(now))) {
      await this.#migrate(session, cookieHeader);
    }
    if (session.loaded && this.store) {
      const subject = this.subject(session.value) ?? null;
      try {
        if (await this.store.isSessionRevoked(session.id, subject, session.issuedAt)) session._revoked();
      } catch (e) {
        if (!(e instanceof StoreUnavailable)) throw e;
        session._unavailable();
      }
    }
    return session;
  }

  /**
   * The Set-Cookie lines and cache headers for the response, applying SPEC.md 10.4's rules.
   * Throws TooManyChunks or EncodeError (answer 500, no Set-Cookie) and StoreUnavailable (the
   * issuance floor could not be looked up: answer 503).
   * @param {Session} session
   * @param {{ status?: number, cacheControl?: string | null, now?: Date | number }} [res]
   * @returns {Promise<{ setCookie: string[], cacheControl: string | null, vary: boolean }>}
   */
  async commit(session, res = {}) {
    const status = res.status ?? 200;
    const cacheControl = res.cacheControl ?? null;
    if (session.unavailable) return { setCookie: [], cacheControl, vary: true };
    const now = res.now === undefined ? nowSeconds() : toUnix(res.now, 'now');
    const serverError = status >= 500 && status <= 599;
    const directives = parseCacheControl(cacheControl);
    const shared = directives.has('public') || directives.has('s-maxage');
    let lines = [];
    const action = session._action;
    if (action === 'clear') {
      lines = this.#removeAll(session.seen);
    } else if (action === 'set') {
      if (!serverError) lines = await this.#write(session, session._pending, session._fresh, now);
    } else if (session.loaded && !serverError && !shared) {
      const renew = this.renewAfter !== null && session.age >= this.renewAfter;
      const reseal = this.fallbackReseal && session.keyIndex > 0;
      if (renew || reseal) lines = await this.#write(session, session.value, false, now);
    }
    if (lines.length > 0) for (const n of session.legacyRemovals) lines.push(removalLine(this.cookie, n));
    let cc = cacheControl;
    if (lines.length > 0) cc = privateCacheControl(cacheControl, directives);
    return { setCookie: lines, cacheControl: cc, vary: true };
  }

  /** An iron-session cookie's data becomes a new session, written on this response. */
  async #migrate(session, cookieHeader) {
    const name = this.migrateFrom.cookieName;
    const fields = cookieHeader == null ? [] : [].concat(cookieHeader);
    for (const field of fields) {
      for (const piece of String(field).split(';')) {
        const eq = piece.indexOf('=');
        if (eq < 0 || piece.slice(0, eq).trim() !== name) continue;
        let raw = piece.slice(eq + 1).trim();
        try {
          raw = decodeURIComponent(raw); // iron-session's cookie serializer percent-encodes
        } catch {
          continue;
        }
        const value = await this.migrateFrom.unseal(raw);
        if (value === null) continue;
        session.legacyRemovals.push(name);
        session.set(value);
        session.migrated = true;
        return;
      }
    }
  }

  #removeAll(seen) {
    const lines = [removalLine(this.cookie, this.name)];
    for (const n of seen) if (n !== this.name) lines.push(removalLine(this.cookie, n));
    return lines;
  }

  async #write(session, value, fresh, now) {
    let id, start, issuedAt;
    if (fresh) {
      id = crypto.getRandomValues(new Uint8Array(16));
      start = now;
      issuedAt = now;
      const subject = this.store ? this.subject(value) ?? null : null;
      if (subject !== null) {
        const c = await this.store.cutoff(subject); // StoreUnavailable propagates: no token
        if (c !== null) issuedAt = max(now, c + 1n);
      }
    } else {
      id = session._id;
      start = session.start;
      issuedAt = max(session.validatedAt, session.issuedAt);
    }
    let maxAge = this.maxAge;
    if (this.lifetime !== null) {
      const left = now >= start ? this.lifetime - (now - start) : this.lifetime + (start - now);
      if (left < maxAge) maxAge = left < 0n ? 0n : left;
    }
    if (maxAge === 0n) return this.#removeAll(session.seen);
    let plaintext;
    try {
      plaintext = encodeEnvelope(value, id, start);
    } catch (e) {
      if (e instanceof TooDeepSignal) throw new EncodeError('TooDeep');
      throw e;
    }
    const token = this.serializer._seal(plaintext, issuedAt, freshNonce());
    const { lines, names } = tokenLines(this.name, token, attributes(this.cookie, maxAge), this.maxChunks);
    const written = new Set(names);
    for (const n of session.seen) if (!written.has(n)) lines.push(removalLine(this.cookie, n));
    return lines;
  }

  /** R of SPEC.md 10.5: the last second a revoked session id must be kept. */
  revocationEnd(session, now) {
    const base = now + this.maxAge + this.leeway;
    if (this.lifetime === null) return base + this.leeway;
    const end = session.start + this.lifetime;
    return (base < end ? base : end) + this.leeway;
  }
}

/** One request's session. */
export class Session {
  #m;
  constructor(manager, seen, now) {
    this.#m = manager;
    /** The session cookie names the request carried. */
    this.seen = seen;
    /** V: the moment the presented token was validated (Unix seconds, bigint). */
    this.validatedAt = now;
    this.loaded = false;
    this.unavailable = false;
    this.value = null;
    this.start = null;
    this.issuedAt = null;
    this.age = null;
    this.keyIndex = null;
    this._id = null;
    this._action = null; // null | 'set' | 'clear'
    this._pending = undefined;
    this._fresh = true;
    /** Legacy (iron-session) cookies to remove when the session is written. */
    this.legacyRemovals = [];
    this.migrated = false;
  }
  _loaded(env, opened) {
    this.loaded = true;
    this.value = env.value;
    this._id = env.id;
    this.start = env.start;
    this.issuedAt = opened.issuedAt;
    this.age = opened.age;
    this.keyIndex = opened.keyIndex;
    this._fresh = false;
  }
  _revoked() {
    this.loaded = false;
    this.value = null;
    this._id = null;
    this._fresh = true;
  }
  _unavailable() {
    this.unavailable = true;
    this.value = null;
  }
  /** The session id (22 characters of base64url), or null for an empty session. */
  get id() {
    return this._id === null ? null : b64encode(this._id);
  }
  get isEmpty() {
    return this.value === null && this._action !== 'set';
  }
  /** The current value: what the handler set, else what was loaded, else null. */
  get() {
    if (this._action === 'set') return this._pending;
    if (this._action === 'clear') return null;
    return this.value;
  }
  /** Stores `value` in the session (a re-issue of a loaded session, else a new session). */
  set(value) {
    if (this.unavailable) throw new StoreUnavailable();
    if (value === undefined) throw new TypeError('a session value cannot be undefined: use clear()');
    this._action = 'set';
    this._pending = value;
  }
  /** Ends the session in this browser (removal lines); a later set starts a new session. */
  clear() {
    if (this.unavailable) throw new StoreUnavailable();
    this._action = 'clear';
    this._pending = undefined;
    this._fresh = true;
  }
  /**
   * Logout: revokes the session id in the store (every copy of the cookie is refused from now
   * on), then clears. Throws StoreUnavailable when the revocation could not be recorded (answer
   * 503: no removal line goes out, so the user sees the failure).
   */
  async logout(opts = {}) {
    if (this.unavailable) throw new StoreUnavailable();
    const m = this.#m;
    if (this.loaded && this._id !== null && m.store) {
      const now = opts.now === undefined ? nowSeconds() : toUnix(opts.now, 'now');
      await m.store.revokeSession(this.id, m.revocationEnd(this, now));
    }
    this.clear();
  }
}

function parseCacheControl(value) {
  const out = new Set();
  if (!value) return out;
  for (const part of value.split(',')) {
    const name = part.split('=')[0].trim().toLowerCase();
    if (name) out.add(name);
  }
  return out;
}

/** The private rule of SPEC.md 10.4. */
function privateCacheControl(value, directives) {
  if (!value) return 'private';
  if (directives.has('no-store')) return value;
  const kept = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => {
      const n = p.split('=')[0].trim().toLowerCase();
      return n && n !== 'public' && n !== 's-maxage' && n !== 'private';
    });
  return ['private', ...kept].join(', ');
}
