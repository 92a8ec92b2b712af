// The token API beyond the vectors: keys, errors, number rules, what cannot be encoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TimedSerializer, generateKey, untrustedHeader, BadToken, TokenExpired, UnknownKey, InvalidToken, ConfigError, EncodeError, Float64 } from '../index.js';
import { encode, decode } from '../src/msgpack.js';
import { hex, toHex } from './helpers.js';

const key = generateKey();
const s = new TimedSerializer(key, { salt: 'test', maxAge: 3600 });

test('generateKey gives 43 characters of base64url, different each time', () => {
  assert.match(key, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateKey(), key);
});

test('a key in the standard alphabet, padded, names the same secret as its URL-safe form', () => {
  const a = new TimedSerializer('+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=', { salt: 's', maxAge: 1 });
  const b = new TimedSerializer('-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8', { salt: 's', maxAge: 1 });
  assert.deepEqual(a.keyIds, b.keyIds);
  assert.throws(() => new TimedSerializer('not base64 at all!', { salt: 's', maxAge: 1 }), (e) => e instanceof ConfigError && e.kind === 'NotBase64');
});

test('a serializer built without maxAge refuses to load, before looking at the token', () => {
  const n = new TimedSerializer(key, { salt: 'test' });
  const t = n.dumps(1);
  assert.throws(() => n.loads(t), (e) => e instanceof ConfigError && e.kind === 'MaxAgeNotSet');
  assert.throws(() => n.loads('garbage'), (e) => e instanceof ConfigError);
});

test('dumps and loads round-trip the payload types, with the number rules', () => {
  const value = { s: 'h\u00e9llo', i: -5, f: 0.5, big: 2n ** 63n, safe: 2 ** 53 - 1, b: new Uint8Array([0, 1, 255]), a: [null, true, false], m: new Map([[1, 'one']]) };
  const back = s.loads(s.dumps(value));
  assert.deepEqual(back, value);
  // An integral number beyond the safe range is a float 64 (it no longer names one integer);
  // a bigint is the integer, and one beyond the safe range loads as bigint.
  assert.equal(s.loads(s.dumps(2 ** 60)), 2 ** 60);
  assert.equal(s.loads(s.dumps(2n ** 60n)), 2n ** 60n);
  assert.equal(s.loads(s.dumps(1.0)), 1);
  assert.ok(Object.is(s.loads(s.dumps(-0)), -0));
  assert.ok(Number.isNaN(s.loads(s.dumps(NaN))));
  // Properties holding undefined are left out, as JSON.stringify does.
  assert.deepEqual(s.loads(s.dumps({ a: 1, gone: undefined })), { a: 1 });
});

test('a plain number is an integer only when it is a safe integer other than -0, else a float 64 (SPEC.md 3.1, Numbers)', () => {
  assert.equal(toHex(encode(1)), '01');
  assert.equal(toHex(encode(1.0)), '01');
  assert.equal(toHex(encode(2 ** 53 - 1)), 'cf001fffffffffffff');
  assert.equal(toHex(encode(-(2 ** 53 - 1))), 'd3ffe0000000000001');
  assert.equal(toHex(encode(2 ** 53)), 'cb4340000000000000');
  assert.equal(toHex(encode(-(2 ** 53))), 'cbc340000000000000');
  assert.equal(toHex(encode(2 ** 64)), 'cb43f0000000000000');
  assert.equal(toHex(encode(-0)), 'cb8000000000000000');
  assert.equal(toHex(encode(0.5)), 'cb3fe0000000000000');
  assert.equal(toHex(encode(Infinity)), 'cb7ff0000000000000');
  // Integers beyond the safe range are bigints, written as integers.
  assert.equal(toHex(encode(2n ** 53n)), 'cf0020000000000000');
  assert.equal(toHex(encode(5n)), '05');
});

test('Float64 writes its number as a float 64 even when it is integral, and loads back as a plain number', () => {
  assert.equal(toHex(encode(new Float64(1))), 'cb3ff0000000000000');
  assert.equal(toHex(encode([new Float64(1), 1])), '92cb3ff000000000000001');
  assert.equal(toHex(encode(new Float64(-0))), 'cb8000000000000000');
  assert.equal(toHex(encode(new Float64(0))), 'cb0000000000000000');
  assert.equal(toHex(encode(new Float64(0.1))), toHex(encode(0.1)));
  assert.equal(toHex(encode(new Map([[new Float64(1), 'f'], [1, 'i']]))), '82cb3ff0000000000000a16601a169');
  assert.deepEqual(s.loads(s.dumps({ ratio: new Float64(2) })), { ratio: 2 });
  assert.equal(new Float64(2) * 3, 6);
  assert.equal(JSON.stringify({ x: new Float64(1.5) }), '{"x":1.5}');
  assert.ok(Object.isFrozen(new Float64(1)));
  for (const bad of ['1', 1n, null, undefined, new Float64(1)]) assert.throws(() => new Float64(bad), TypeError);
});

test('every NaN is written as the quiet NaN cb 7ff8000000000000, whatever its sign and payload (SPEC.md 3.1, NaN)', () => {
  // A NaN with the sign bit and a payload, as x86 arithmetic or a reinterpreted buffer gives.
  const signed = new Float64Array(new Uint8Array([1, 0, 0, 0, 0, 0, 0xf8, 0xff]).buffer)[0];
  const signalling = new Float64Array(new Uint8Array([1, 0, 0, 0, 0, 0, 0xf0, 0x7f]).buffer)[0];
  for (const nan of [NaN, 0 / 0, signed, signalling, Math.sqrt(-1)]) {
    assert.equal(toHex(encode(nan)), 'cb7ff8000000000000');
    assert.equal(toHex(encode(new Float64(nan))), 'cb7ff8000000000000');
    assert.equal(toHex(encode([nan])), '91cb7ff8000000000000');
  }
});

test('a token whose payload holds any NaN encoding (either sign, any payload, quiet or signalling, float 32 or 64) loads as NaN', () => {
  for (const bytes of ['cb7ff8000000000000', 'cbfff8000000000000', 'cb7ff0000000000001', 'cbfff00000000000ff', 'cb7fffffffffffffff',
    'ca7fc00000', 'caffc00000', 'ca7f800001', 'caff800001']) {
    const token = s._seal(hex(bytes), 1700000000n, new Uint8Array(24));
    const value = s.loadsAt(token, 1700000000);
    assert.ok(typeof value === 'number' && Number.isNaN(value), bytes);
    assert.ok(Number.isNaN(decode(hex(bytes))), bytes);
  }
});

test('a Map with two keys of the same encoding is refused with a TypeError before any token exists', () => {
  for (const m of [new Map([[[1], 'a'], [[1], 'b']]), new Map([[1, 'a'], [1n, 'b']]), new Map([[new Float64(NaN), 1], [NaN, 2]]),
    new Map([[{ k: 1 }, 1], [new Map([['k', 1]]), 2]])]) {
    assert.throws(() => s.dumps(m), TypeError, inspect(m));
  }
  // Keys of different encodings are kept, in order: the integer 1, the float 1.0, the text "1".
  assert.equal(toHex(encode(new Map([[1, 0], [new Float64(1), 0], ['1', 0]]))), '830100cb3ff000000000000000a13100');
});

test('a "__proto__" key loads as data, never as the prototype', () => {
  const back = s.loads(s.dumps(JSON.parse('{"__proto__": {"admin": true}}')));
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.equal(back.admin, undefined);
  assert.deepEqual(Object.keys(back), ['__proto__']);
});

test('values the format cannot hold are refused with a TypeError', () => {
  for (const bad of [undefined, () => 1, Symbol('x'), new Date(0), new Set([1]), 2n ** 64n, -(2n ** 63n) - 1n, '\ud800', [undefined], new Uint16Array(2), new (class Thing {})()]) {
    assert.throws(() => s.dumps(bad), TypeError, inspect(bad));
  }
});

test('a cycle or a value nested deeper than 128 is refused with EncodeError TooDeep', () => {
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => s.dumps(cyclic), (e) => e instanceof EncodeError && e.kind === 'TooDeep');
});

test('a payload too large for maxTokenLen is refused with EncodeError TooLong', () => {
  assert.throws(() => s.dumps('x'.repeat(7000)), (e) => e instanceof EncodeError && e.kind === 'TooLong');
});

test('rejections are typed, keep their kind, and their messages hold no token', () => {
  const token = s.dumpsAt({ secret: 'payload-text' }, 1000);
  assert.throws(() => s.loads(token), (e) => e instanceof TokenExpired && e.kind === 'Expired' && !e.message.includes(token) && !e.message.includes('payload-text'));
  const other = new TimedSerializer(generateKey(), { salt: 'test', maxAge: 3600 });
  assert.throws(() => other.loads(s.dumps(1)), (e) => e instanceof UnknownKey && e instanceof BadToken);
  const tampered = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
  assert.throws(() => new TimedSerializer(key, { salt: 'test', maxAge: null }).loads(tampered), (e) => e instanceof InvalidToken && e.kind === 'Invalid');
});

test('a token from another salt does not load', () => {
  const other = new TimedSerializer(key, { salt: 'other', maxAge: 3600 });
  assert.throws(() => other.loads(s.dumps(1)), (e) => e.kind === 'Invalid');
});

test('loadsWithMeta gives Dates, the key index and the token id', () => {
  const t = s.dumpsAt('x', new Date('2024-05-01T12:00:00Z'));
  const { value, meta } = s.loadsWithMetaAt(t, new Date('2024-05-01T12:00:30Z'));
  assert.equal(value, 'x');
  assert.deepEqual(meta.issuedAt, new Date('2024-05-01T12:00:00Z'));
  assert.equal(meta.age, 30);
  assert.deepEqual(meta.expiresAt, new Date('2024-05-01T13:01:00Z'));
  assert.match(meta.tokenId, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(meta.keyId, s.keyIds[0]);
});

test('key rotation: the old key still loads, reissue moves the token to the new primary', () => {
  const r = new TimedSerializer(key, { salt: 'rot', maxAge: 3600 });
  const old = r.dumpsAt({ a: 1 }, Math.floor(Date.now() / 1000) - 10);
  const fresh = generateKey();
  r.replaceKeys([fresh, key]);
  const { meta } = r.loadsWithMeta(old);
  assert.equal(meta.keyIndex, 1);
  const re = r.reissue(old);
  const after = r.loadsWithMeta(re);
  assert.equal(after.meta.keyIndex, 0);
  assert.deepEqual(after.meta.issuedAt, meta.issuedAt);
  assert.throws(() => r.replaceKeys([]), (e) => e.kind === 'EmptyKeyRing');
  assert.equal(r.loadsWithMeta(re).meta.keyIndex, 0, 'a refused ring keeps the old one');
});

test('untrustedHeader reads version, key id and issued-at without a key', () => {
  const h = untrustedHeader(s.dumpsAt(null, 1700000000));
  assert.deepEqual(h, { version: 1, keyId: s.keyIds[0], issuedAt: new Date(1700000000 * 1000), issuedAtUnix: 1700000000 });
  assert.throws(() => untrustedHeader('x'), InvalidToken);
});

const b64url = (raw) => Buffer.from(raw).toString('base64url');
const rawOf = (token) => new Uint8Array(Buffer.from(token, 'base64url'));
const peekKind = (token) => {
  try {
    untrustedHeader(token);
  } catch (e) {
    assert.ok(e instanceof InvalidToken, String(e));
    return e.kind;
  }
  return 'read';
};

test('untrustedHeader refuses more than 65536 bytes with TooLong, counting bytes and not characters (SPEC.md 6.6 step 1)', () => {
  assert.equal(peekKind('A'.repeat(65537)), 'TooLong');
  assert.equal(peekKind('\u00e9'.repeat(32769)), 'TooLong'); // 32,769 characters, 65,538 bytes
  assert.equal(peekKind('!'.repeat(65536)), 'Malformed'); // at the clamp: on to step 2
  // No configured maximum applies: a token longer than the default 8192 is read.
  const big = new TimedSerializer(key, { salt: 'test', maxAge: 60, maxTokenLen: 65536 }).dumpsAt('x'.repeat(40000), 1700000000);
  assert.ok(big.length > 8192 && big.length <= 65536);
  assert.equal(untrustedHeader(big).issuedAtUnix, 1700000000);
});

test('untrustedHeader refuses what is not canonical base64url or is under 53 raw bytes with Malformed (SPEC.md 6.6 step 2)', () => {
  const token = s.dumpsAt(null, 1700000000);
  assert.equal(peekKind(''), 'Malformed');
  assert.equal(peekKind(token + '='), 'Malformed');
  assert.equal(peekKind('+' + token.slice(1)), 'Malformed'); // the standard alphabet's 62
  // Non-zero unused bits: 56 raw bytes end in a character whose two low bits are unused.
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const t56 = s.dumpsAt('ab', 1700000000);
  assert.equal(rawOf(t56).length, 56);
  assert.equal(peekKind(t56), 'read');
  assert.equal(peekKind(t56.slice(0, -1) + abc[abc.indexOf(t56.at(-1)) | 1]), 'Malformed');
  assert.equal(peekKind(` ${token}`), 'Malformed');
  assert.equal(peekKind(b64url(rawOf(token).subarray(0, 52))), 'Malformed');
  assert.equal(peekKind(b64url(rawOf(token).subarray(0, 53))), 'read');
  // Malformed comes before the version check: 52 bytes of version 2.
  const short2 = rawOf(token).subarray(0, 52);
  short2[0] = 2;
  assert.equal(peekKind(b64url(short2)), 'Malformed');
});

test('untrustedHeader refuses a version byte other than 0x01 with UnsupportedVersion (SPEC.md 6.6 step 3)', () => {
  for (const version of [0, 2, 0xff]) {
    const raw = rawOf(s.dumpsAt(null, 1700000000));
    raw[0] = version;
    assert.equal(peekKind(b64url(raw)), 'UnsupportedVersion');
  }
});

test('untrustedHeader does nothing beyond steps 1-3: no key lookup, no authentication, no time check', () => {
  // A forged token under a key no ring holds, issued far in the future, with a tag of zeros.
  const raw = new Uint8Array(53);
  raw[0] = 1;
  raw.set([0xde, 0xad, 0xbe, 0xef], 1);
  new DataView(raw.buffer).setBigUint64(5, 2n ** 64n - 1n);
  assert.deepEqual(untrustedHeader(b64url(raw)), { version: 1, keyId: 'deadbeef', issuedAt: null, issuedAtUnix: 2n ** 64n - 1n });
  // An expired token whose ciphertext was altered: its header is still read.
  const old = rawOf(s.dumpsAt({ a: 1 }, 1000));
  old[40] ^= 1;
  assert.throws(() => s.loadsAt(b64url(old), 1000), (e) => e.kind === 'Invalid');
  assert.deepEqual(untrustedHeader(b64url(old)), { version: 1, keyId: s.keyIds[0], issuedAt: new Date(1000 * 1000), issuedAtUnix: 1000 });
});

test('the serializer never shows its keys when printed', () => {
  const printed = inspect(s) + String(s) + JSON.stringify(s);
  assert.ok(!printed.includes(key));
  assert.match(inspect(s), /redacted/);
});

test('loads of a non-string is a TypeError, not a rejection', () => {
  assert.throws(() => s.loads(42), TypeError);
});
