// The session profile's behaviour (SPEC.md 10.2-10.5) through the framework-neutral core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionManager, MemoryStore, StoreUnavailable, TooManyChunks, generateKey, TimedSerializer } from '../index.js';

const key = generateKey();
const T = 1_700_000_000;
const pairs = (lines) => lines.map((l) => l.split(';')[0]).filter((p) => !p.endsWith('=')).join('; ');

async function roundTrip(m, header, fn, res = {}, now = T) {
  const s = await m.load(header, { now });
  await fn(s);
  return { s, out: await m.commit(s, { now, ...res }) };
}

test('a new session is written as one __Host-session line with the default attributes, and reads back', async () => {
  const m = new SessionManager(key);
  const { out } = await roundTrip(m, null, (s) => s.set({ user_id: '1' }));
  assert.equal(out.setCookie.length, 1);
  assert.match(out.setCookie[0], /^__Host-session=[A-Za-z0-9_-]+; HttpOnly; SameSite=Lax; Secure; Path=\/; Max-Age=86400$/);
  assert.equal(out.cacheControl, 'private');
  const s = await m.load(pairs(out.setCookie), { now: T + 5 });
  assert.deepEqual(s.get(), { user_id: '1' });
});

test('an untouched session writes nothing; a set keeps its id and start; issued-at is max(V, I)', async () => {
  const m = new SessionManager(key, { leeway: 60 });
  const { out } = await roundTrip(m, null, (s) => s.set('a'));
  const first = await m.load(pairs(out.setCookie), { now: T });
  const idle = await m.commit(first, { now: T });
  assert.deepEqual(idle.setCookie, []);
  // Read 30 s earlier than it was issued (within the leeway): the re-issue keeps issued-at I.
  const early = await m.load(pairs(out.setCookie), { now: T - 30 });
  early.set('b');
  const again = await m.commit(early, { now: T - 30 });
  const s = await m.load(pairs(again.setCookie), { now: T });
  assert.equal(s.get(), 'b');
  assert.equal(s.id, first.id);
  assert.equal(s.start, first.start);
  assert.equal(s.issuedAt, BigInt(T));
});

test('clear removes the cookie and every chunk seen; a later set starts a new session id', async () => {
  const m = new SessionManager(key, { maxChunks: 3 });
  const { out } = await roundTrip(m, null, (s) => s.set('x'));
  const header = `${pairs(out.setCookie)}; __Host-session.0=junk; __Host-session.7=junk`;
  const { out: cleared } = await roundTrip(m, header, (s) => s.clear());
  assert.deepEqual(cleared.setCookie.map((l) => l.split('=')[0]).sort(), ['__Host-session', '__Host-session.0', '__Host-session.7']);
  for (const l of cleared.setCookie) assert.match(l, /=; HttpOnly; SameSite=Lax; Secure; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT$/);
  const old = await m.load(header, { now: T });
  const { out: renewed } = await roundTrip(m, header, (s) => { s.clear(); s.set('y'); });
  const fresh = await m.load(pairs(renewed.setCookie), { now: T });
  assert.notEqual(fresh.id, old.id);
});

test('stale chunks are expired when the session shrinks: 3 chunks, then 2, then one cookie', async () => {
  const m = new SessionManager(key, { maxChunks: 3 });
  const big = (n) => 'x'.repeat(n);
  let { out } = await roundTrip(m, null, (s) => s.set(big(7000)));
  assert.deepEqual(out.setCookie.map((l) => l.split('=')[0]), ['__Host-session.0', '__Host-session.1', '__Host-session.2']);
  ({ out } = await roundTrip(m, pairs(out.setCookie), (s) => s.set(big(4000))));
  assert.deepEqual(out.setCookie.map((l) => l.split('=')[0]), ['__Host-session.0', '__Host-session.1', '__Host-session.2']);
  assert.match(out.setCookie[2], /^__Host-session\.2=; .*Max-Age=0/);
  const header = pairs(out.setCookie);
  ({ out } = await roundTrip(m, header + '; __Host-session.2=', (s) => s.set('small')));
  assert.deepEqual(out.setCookie.map((l) => l.split('=')[0]), ['__Host-session', '__Host-session.0', '__Host-session.1', '__Host-session.2']);
  assert.equal((await m.load(pairs(out.setCookie), { now: T })).get(), 'small');
});

test('a session too large for maxChunks fails with TooManyChunks (the response is a 500 with no Set-Cookie)', async () => {
  const m = new SessionManager(key, { maxChunks: 2 });
  const s = await m.load(null, { now: T });
  // A token of about 8100 characters: within the maximum length (8192) but 3 chunks' worth.
  s.set('x'.repeat(5990));
  await assert.rejects(m.commit(s, { now: T }), TooManyChunks);
});

test('a 5xx response carries no issued cookie, but a removal still goes out', async () => {
  const m = new SessionManager(key);
  const { out } = await roundTrip(m, null, (s) => s.set('x'), { status: 500 });
  assert.deepEqual(out.setCookie, []);
  const { out: c } = await roundTrip(m, null, (s) => s.clear(), { status: 503 });
  assert.equal(c.setCookie.length, 1);
});

test('Cache-Control: public and s-maxage give way to private; no-store is left as it is', async () => {
  const m = new SessionManager(key);
  const a = await roundTrip(m, null, (s) => s.set(1), { cacheControl: 'public, max-age=60, s-maxage=600' });
  assert.equal(a.out.cacheControl, 'private, max-age=60');
  const b = await roundTrip(m, null, (s) => s.set(1), { cacheControl: 'no-store' });
  assert.equal(b.out.cacheControl, 'no-store');
});

test('renewal after renewAfter, not on a shared-cacheable response; the absolute lifetime ends it', async () => {
  const m = new SessionManager(key, { maxAge: 100, renewAfter: 50, absoluteLifetime: 300 });
  const { out } = await roundTrip(m, null, (s) => s.set('r'));
  const cookie = pairs(out.setCookie);
  assert.deepEqual((await roundTrip(m, cookie, () => {}, {}, T + 49)).out.setCookie, []);
  const renewed = await roundTrip(m, cookie, () => {}, {}, T + 50);
  assert.equal(renewed.out.setCookie.length, 1);
  assert.deepEqual((await roundTrip(m, cookie, () => {}, { cacheControl: 'public' }, T + 50)).out.setCookie, []);
  // Max-Age is min(maxAge, s + L - now); 0 in the last second, and then removal lines.
  let c = pairs(renewed.out.setCookie);
  for (const t of [T + 100, T + 150, T + 200, T + 250]) {
    const r = await roundTrip(m, c, () => {}, {}, t);
    assert.equal(r.s.get(), 'r', `loads at +${t - T}`);
    c = pairs(r.out.setCookie);
  }
  const last = await roundTrip(m, c, (s) => s.set('r'), {}, T + 280);
  assert.match(last.out.setCookie[0], /Max-Age=20$/);
  assert.equal((await m.load(pairs(last.out.setCookie), { now: T + 300 })).get(), 'r', 'exactly L old still loads');
  const end = await roundTrip(m, pairs(last.out.setCookie), (s) => s.set('r2'), {}, T + 300);
  assert.match(end.out.setCookie[0], /^__Host-session=; .*Max-Age=0/, 'Max-Age 0: removal instead of a token');
  assert.equal((await m.load(pairs(last.out.setCookie), { now: T + 301 })).loaded, false, 'L + 1 old is refused');
});

test('a session under a fallback key is re-sealed under the primary', async () => {
  const old = generateKey();
  const m = new SessionManager(old);
  const { out } = await roundTrip(m, null, (s) => s.set('k'));
  m.replaceKeys([generateKey(), old]);
  const r = await roundTrip(m, pairs(out.setCookie), () => {});
  assert.equal(r.s.keyIndex, 1);
  assert.equal(r.out.setCookie.length, 1);
  assert.equal((await m.load(pairs(r.out.setCookie), { now: T })).keyIndex, 0);
});

test('the AEAD budget: 4 forged tokens under our key id push the real cookie out, junk does not', async () => {
  const m = new SessionManager(key);
  const { out } = await roundTrip(m, null, (s) => s.set('real'));
  const real = out.setCookie[0].split(';')[0];
  const token = real.split('=')[1];
  const forged = token.slice(0, 60) + (token[60] === 'A' ? 'B' : 'A') + token.slice(61);
  const other = new TimedSerializer(generateKey(), { salt: 'session-cookie', maxAge: 10 }).dumpsAt(1, T);
  const junk = Array.from({ length: 20 }, (_, i) => `__Host-session=junk${i}; __Host-session=${other}`).join('; ');
  assert.equal((await m.load(`${junk}; ${real}`, { now: T })).get(), 'real');
  const four = Array(4).fill(`__Host-session=${forged}`).join('; ');
  assert.equal((await m.load(`${four}; ${real}`, { now: T })).loaded, false);
  const three = Array(3).fill(`__Host-session=${forged}`).join('; ');
  assert.equal((await m.load(`${three}; ${real}`, { now: T })).get(), 'real');
});

test('logout revokes the session id: every copy, renewed or changed, is refused afterwards', async () => {
  const store = new MemoryStore();
  const m = new SessionManager(key, { store, subject: (v) => v.user_id });
  const now = Math.floor(Date.now() / 1000);
  const { out } = await roundTrip(m, null, (s) => s.set({ user_id: 'u1' }), {}, now);
  const copy = pairs(out.setCookie);
  const changed = await roundTrip(m, copy, (s) => s.set({ user_id: 'u1', role: 'x' }), {}, now);
  const { out: gone } = await roundTrip(m, copy, (s) => s.logout({ now }), {}, now);
  assert.match(gone.setCookie[0], /Max-Age=0/);
  assert.equal((await m.load(copy, { now })).loaded, false);
  assert.equal((await m.load(pairs(changed.out.setCookie), { now })).loaded, false);
});

test('log out everywhere: earlier sessions are refused, a login right after gets issued-at C + 1 and works', async () => {
  const store = new MemoryStore({ retain: 86460 });
  const m = new SessionManager(key, { store, subject: (v) => v.user_id });
  const before = await roundTrip(m, null, (s) => s.set({ user_id: 'u2' }), {}, undefined);
  const c = await store.revokeSubject('u2');
  assert.equal((await m.load(pairs(before.out.setCookie))).loaded, false);
  const after = await roundTrip(m, null, (s) => s.set({ user_id: 'u2' }), {}, undefined);
  const s = await m.load(pairs(after.out.setCookie));
  assert.equal(s.issuedAt, c + 1n);
  assert.deepEqual(s.get(), { user_id: 'u2' });
  assert.equal((await m.load(pairs(before.out.setCookie).replace('u2', 'u3'))).loaded, false);
});

test('a store that cannot answer: the session is unavailable, writes nothing, and a new session cannot be issued', async () => {
  const down = {
    isSessionRevoked: async () => { throw new StoreUnavailable(); },
    cutoff: async () => { throw new StoreUnavailable(); },
    revokeSession: async () => { throw new StoreUnavailable(); },
  };
  const ok = new SessionManager(key, { subject: (v) => v });
  const { out } = await roundTrip(ok, null, (s) => s.set('u'));
  const m = new SessionManager(key, { store: down, subject: (v) => v });
  const s = await m.load(pairs(out.setCookie), { now: T });
  assert.equal(s.unavailable, true);
  assert.equal(s.get(), null);
  assert.throws(() => s.set('x'), StoreUnavailable);
  await assert.rejects(s.logout(), StoreUnavailable);
  assert.deepEqual((await m.commit(s, { now: T })).setCookie, []);
  const fresh = await m.load(null, { now: T });
  fresh.set('new');
  await assert.rejects(m.commit(fresh, { now: T }), StoreUnavailable);
});

test('configuration errors: __Host- without Secure, renewAfter without a lifetime, SameSite=None without Secure', () => {
  assert.throws(() => new SessionManager(key, { cookieName: '__Host-x', secure: false }), RangeError);
  assert.throws(() => new SessionManager(key, { renewAfter: 10 }), RangeError);
  assert.throws(() => new SessionManager(key, { renewAfter: 100, maxAge: 100, absoluteLifetime: 1000 }), RangeError);
  assert.throws(() => new SessionManager(key, { sameSite: 'None', secure: false }), RangeError);
  assert.throws(() => new SessionManager(key, { maxChunks: 17 }), RangeError);
  assert.equal(new SessionManager(key, { secure: false }).name, 'session');
});

test('a session manager never shows its keys when printed, nor does a store', async () => {
  const { inspect } = await import('node:util');
  const m = new SessionManager(key, { store: new MemoryStore() });
  const printed = inspect(m, { depth: 10, showHidden: true }) + JSON.stringify(m.cookie);
  assert.ok(!printed.includes(key));
  const raw = Uint8Array.from(atob(key.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  assert.ok(!printed.includes(Array.from(raw.slice(0, 8)).join(', ')), 'no secret bytes either');
});
