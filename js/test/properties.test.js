// Property tests (fast-check): dumps/loads round-trips, and no exception other than BadToken
// on any string, as a token or as a cookie header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TimedSerializer, SessionManager, BadToken, generateKey } from '../index.js';

const key = generateKey();
const s = new TimedSerializer(key, { salt: 'prop', maxAge: 3600 });

/** What a value loads back as: numbers as they are (beyond the safe range they are float 64), bigints beyond it as bigint. */
function expected(v) {
  if (Array.isArray(v)) return v.map(expected);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const o = {};
    for (const k of Object.keys(v)) Object.defineProperty(o, k, { value: expected(v[k]), enumerable: true, writable: true, configurable: true });
    return o;
  }
  if (typeof v === 'bigint' && v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n) return Number(v);
  return v;
}

const leaf = fc.oneof(
  fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string(), fc.string({ unit: 'binary' }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 40 }),
);
const payload = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 })),
})).value;

test('dumps then loads gives the value back, with the number rules', () => {
  fc.assert(fc.property(payload, (v) => {
    assert.deepStrictEqual(s.loads(s.dumps(v)), expected(v));
  }), { numRuns: 500 });
});

test('JSON values round-trip', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    assert.deepStrictEqual(s.loads(s.dumps(v)), expected(v));
  }), { numRuns: 300 });
});

function onlyBadToken(fn) {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BadToken)) throw e;
  }
}

test('any string: loads either loads or throws a BadToken, nothing else', () => {
  const alphabet = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
  const b64 = fc.array(alphabet, { minLength: 60, maxLength: 400 }).map((a) => `A${a.join('')}`);
  fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 300 }), b64), (t) => {
    onlyBadToken(() => s.loads(t));
  }), { numRuns: 2000 });
});

test('a valid token with any byte changed, cut or extended is refused with a BadToken', () => {
  const token = s.dumps({ user_id: '123', role: 'admin' });
  fc.assert(fc.property(fc.nat(token.length - 1), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.nat(token.length), fc.string(), (i, c, cut, tail) => {
    const changed = token.slice(0, i) + c + token.slice(i + 1);
    if (changed !== token) assert.throws(() => s.loads(changed), BadToken);
    onlyBadToken(() => s.loads(token.slice(0, cut)));
    if (tail) assert.throws(() => s.loads(token + tail), BadToken);
  }), { numRuns: 1000 });
});

test('authentic tokens over any plaintext bytes: loads throws nothing but BadToken', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const token = s._seal(bytes, BigInt(Math.floor(Date.now() / 1000)), crypto.getRandomValues(new Uint8Array(24)));
    onlyBadToken(() => s.loads(token));
  }), { numRuns: 2000 });
});

test('any Cookie header: the session reader never throws and finds no session', async () => {
  const m = new SessionManager(key, { maxChunks: 3 });
  const piece = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('__Host-session', '__Host-session.0', '__Host-session.1', '__Host-session.2', '__Host-session.63', 'x'), fc.string()).map(([n, v]) => `${n}=${v}`),
  );
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 20 }).map((a) => a.join('; ')), async (header) => {
    const session = await m.load(header);
    assert.equal(session.loaded, false);
  }), { numRuns: 1000 });
});
