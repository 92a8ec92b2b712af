// Revocation stores (SPEC.md 10.5, 10.6): in memory, and Redis with the shared key layout.

import { sha256 } from '@noble/hashes/sha2.js';
import { encode as b64encode } from './base64url.js';

const utf8 = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;
const PROBE_TIMEOUT_MS = 5000;

/** The store could not answer (down, an error, or no answer in time): fail closed, answer 503. */
export class StoreUnavailable extends Error {
  constructor(message = 'the revocation store cannot answer') {
    super(message);
    this.name = 'StoreUnavailable';
  }
}

/** base64url(SHA-256("itsclassified revocation subject" || 0x00 || UTF-8(subject))), 43 characters. */
export function subjectHash(subject) {
  const label = utf8.encode('itsclassified revocation subject');
  const s = utf8.encode(subject);
  const input = new Uint8Array(label.length + 1 + s.length);
  input.set(label);
  input.set(s, label.length + 1);
  return b64encode(sha256(input));
}

/** Milliseconds "to the end of second X" from now_ms, or <= 0 when the moment has passed. */
export function msToEndOf(second, nowMs) {
  return (Number(second) + 1) * 1000 - nowMs;
}

function big(x) {
  return typeof x === 'bigint' ? x : BigInt(Math.floor(x));
}

/**
 * Revocations kept in this process (one instance only: another process does not see them).
 * Entries expire as in the Redis layout; expired ones are swept as new ones are written.
 */
export class MemoryStore {
  #tokens = new Map(); // token id -> expiry ms
  #sessions = new Map(); // session id -> expiry ms
  #cutoffs = new Map(); // subject hash -> { c: bigint, until: ms }
  #writes = 0;

  constructor(options = {}) {
    this.margin = options.margin ?? 30;
    this.retain = options.retain ?? 0;
    this.clock = options.clock ?? (() => Date.now());
  }

  #sweep(now) {
    if (++this.#writes % 256 !== 0) return;
    for (const m of [this.#tokens, this.#sessions]) for (const [k, t] of m) if (t <= now) m.delete(k);
    for (const [k, e] of this.#cutoffs) if (e.until <= now) this.#cutoffs.delete(k);
  }
  #live(map, key, now) {
    const t = map.get(key);
    return t !== undefined && t > now;
  }
  #cutoff(subject, now) {
    const e = this.#cutoffs.get(subjectHash(subject));
    return e !== undefined && e.until > now ? e.c : null;
  }

  async revokeToken(tokenId, expiresAt) {
    const now = this.clock();
    const ms = msToEndOf(expiresAt, now);
    if (ms <= 0) return;
    if (!this.#live(this.#tokens, tokenId, now)) this.#tokens.set(tokenId, now + ms);
    this.#sweep(now);
  }
  async revokeSession(sessionId, until) {
    const now = this.clock();
    const ms = msToEndOf(until, now);
    if (ms <= 0) return;
    const cur = this.#sessions.get(sessionId);
    if (cur === undefined || cur <= now || cur < now + ms) this.#sessions.set(sessionId, now + ms);
    this.#sweep(now);
  }
  async revokeSubjectAt(subject, cutoff, retain = this.retain) {
    const now = this.clock();
    const c = big(cutoff);
    const ms = msToEndOf(c + big(retain), now);
    if (ms <= 0) return;
    const key = subjectHash(subject);
    const cur = this.#cutoffs.get(key);
    const live = cur !== undefined && cur.until > now;
    if (!live) this.#cutoffs.set(key, { c, until: now + ms });
    else this.#cutoffs.set(key, { c: c > cur.c ? c : cur.c, until: Math.max(cur.until, now + ms) });
    this.#sweep(now);
  }
  /** "Log out everywhere": cutoff C = now + margin. */
  async revokeSubject(subject, retain = this.retain) {
    const c = BigInt(Math.floor(this.clock() / 1000)) + BigInt(this.margin);
    await this.revokeSubjectAt(subject, c, retain);
    return c;
  }
  async cutoff(subject) {
    return this.#cutoff(subject, this.clock());
  }
  async isSessionRevoked(sessionId, subject, issuedAt) {
    const now = this.clock();
    if (this.#live(this.#sessions, sessionId, now)) return true;
    if (subject == null) return false;
    const c = this.#cutoff(subject, now);
    return c !== null && c >= big(issuedAt);
  }
  async isTokenRevoked(tokenId, subject, issuedAt) {
    const now = this.clock();
    if (this.#live(this.#tokens, tokenId, now)) return true;
    if (subject == null) return false;
    const c = this.#cutoff(subject, now);
    return c !== null && c >= big(issuedAt);
  }
}

const SET_CUTOFF = `local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local ttl = redis.call('PTTL', KEYS[1])
local new = tonumber(ARGV[1])
local px = tonumber(ARGV[2])
if new > cur then
  if ttl > px then px = ttl end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
elseif px > ttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 1
`;

// SET NX, else raise the expiry, never lower it: PEXPIRE ... GT, as a script so that it is one
// round trip and works on Redis < 7 as well.
const SET_SESSION = `if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and tonumber(ARGV[1]) > ttl then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`;

/** A cutoff value from Redis: a decimal integer in 0 .. 2^64 - 1, else the store is Unavailable. */
function parseCutoff(v) {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'string' ? v : typeof v === 'object' && v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v);
  if (!/^[0-9]{1,20}$/.test(s)) throw new StoreUnavailable('the revocation store holds a cutoff that is not a number');
  const c = BigInt(s);
  if (c > U64_MAX) throw new StoreUnavailable('the revocation store holds a cutoff that is not a number');
  return c;
}

/**
 * Revocations in Redis, in the layout every itsclassified implementation shares (SPEC.md 10.6).
 *
 * `client` is a connected node-redis client (`createClient()`; its `sendCommand` is used) or an
 * ioredis client (its `call` is used). Every command has a bounded timeout (default 250 ms); on
 * a timeout or an error the operation throws StoreUnavailable, and from then on every operation
 * throws at once, without waiting, until a probe (PING, at most one in flight) is answered.
 */
export class RedisStore {
  #send;
  #down = false;
  #probing = false;

  constructor(client, options = {}) {
    if (client && typeof client.call === 'function') {
      this.#send = (args) => client.call(...args); // ioredis
    } else if (client && typeof client.sendCommand === 'function') {
      this.#send = (args) => client.sendCommand(args); // node-redis
    } else {
      throw new TypeError('RedisStore needs a node-redis or ioredis client');
    }
    this.prefix = options.prefix ?? 'itsclassified:revoked:';
    this.timeoutMs = options.timeoutMs ?? 250;
    this.margin = options.margin ?? 30;
    this.retain = options.retain ?? 0;
    this.clock = options.clock ?? (() => Date.now());
    this.onError = options.onError ?? (() => {});
  }

  /** One command, within the timeout; Unavailable on any failure. */
  async #cmd(args) {
    if (this.#down) {
      this.#probe();
      throw new StoreUnavailable();
    }
    try {
      return await this.#timed(this.#send(args));
    } catch (e) {
      this.#down = true;
      this.onError(e);
      throw e instanceof StoreUnavailable ? e : new StoreUnavailable();
    }
  }

  #timed(promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailable('the revocation store did not answer in time')), this.timeoutMs);
    });
    promise.catch(() => {}); // a late failure of an abandoned command is not unhandled
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  #probe() {
    if (this.#probing) return;
    this.#probing = true;
    // Bounded by a longer timeout than commands (5 s): the probe waits out a stalled store, so
    // that its first answer after the stall brings the store back, and a probe lost on a dead
    // connection gives way to the next one.
    let timer;
    const lost = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailable()), PROBE_TIMEOUT_MS);
    });
    const ping = Promise.resolve().then(() => this.#send(['PING']));
    ping.catch(() => {});
    Promise.race([ping, lost])
      .finally(() => clearTimeout(timer))
      .then(
        () => { this.#down = false; },
        () => {},
      )
      .finally(() => {
        // After a failure (the connection refused at once), another request probes again; a
        // short pause keeps a dead store from being probed in a tight loop.
        setTimeout(() => { this.#probing = false; }, this.#down ? 100 : 0);
      });
  }

  async revokeToken(tokenId, expiresAt) {
    const ms = msToEndOf(expiresAt, this.clock());
    if (ms <= 0) return;
    await this.#cmd(['SET', `${this.prefix}t:${tokenId}`, '1', 'PX', String(Math.ceil(ms)), 'NX']);
  }
  async revokeSession(sessionId, until) {
    const ms = msToEndOf(until, this.clock());
    if (ms <= 0) return;
    await this.#cmd(['EVAL', SET_SESSION, '1', `${this.prefix}i:${sessionId}`, String(Math.ceil(ms))]);
  }
  async revokeSubjectAt(subject, cutoff, retain = this.retain) {
    const c = big(cutoff);
    const ms = msToEndOf(c + big(retain), this.clock());
    if (ms <= 0) return;
    await this.#cmd(['EVAL', SET_CUTOFF, '1', `${this.prefix}s:${subjectHash(subject)}`, c.toString(), String(Math.ceil(ms))]);
  }
  async revokeSubject(subject, retain = this.retain) {
    const c = BigInt(Math.floor(this.clock() / 1000)) + BigInt(this.margin);
    await this.revokeSubjectAt(subject, c, retain);
    return c;
  }
  async cutoff(subject) {
    return parseCutoff(await this.#cmd(['GET', `${this.prefix}s:${subjectHash(subject)}`]));
  }
  async isSessionRevoked(sessionId, subject, issuedAt) {
    return this.#check('i', sessionId, subject, issuedAt);
  }
  async isTokenRevoked(tokenId, subject, issuedAt) {
    return this.#check('t', tokenId, subject, issuedAt);
  }
  async #check(kind, id, subject, issuedAt) {
    if (subject == null) {
      const n = await this.#cmd(['EXISTS', `${this.prefix}${kind}:${id}`]);
      return Number(n) === 1;
    }
    const [entry, cut] = await this.#cmd(['MGET', `${this.prefix}${kind}:${id}`, `${this.prefix}s:${subjectHash(subject)}`]);
    const c = parseCutoff(cut);
    return (entry !== null && entry !== undefined) || (c !== null && c >= big(issuedAt));
  }
}
