// Every vector of tests/vectors/v1.json (SPEC.md section 8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimedSerializer, BadToken, InvalidToken, TokenExpired, UnknownKey, ConfigError, EncodeError } from '../index.js';
import { encode, decode } from '../src/msgpack.js';
import { loadVectors, hex, toHex, jsonMismatch, plainNumbers } from './helpers.js';

// Read losslessly (SPEC.md section 8): a payload_json float is a Float64, so encoding it writes
// float 64 even when it is integral (`1.0`) or -0.0.
const v1 = loadVectors('v1.json');

/** Passes when the loaded value matches payload_json by SPEC.md section 8's rules. */
function assertMatchesJson(value, json) {
  const why = jsonMismatch(value, json);
  assert.equal(why, null, why ?? '');
}

const KNOWN = {
  valid: ['name', 'note', 'secret_hex', 'salt_hex', 'salt_text', 'key_id', 'issued_at', 'nonce_hex', 'payload_json', 'payload_msgpack_hex', 'token'],
  invalid: ['name', 'note', 'secret_hex', 'fallback_secrets_hex', 'salt_hex', 'salt_text', 'now', 'max_age', 'leeway', 'max_token_len', 'token', 'error'],
  decode: ['name', 'note', 'secret_hex', 'fallback_secrets_hex', 'salt_hex', 'salt_text', 'now', 'max_age', 'leeway', 'max_token_len', 'token', 'issued_at', 'nonce_hex', 'payload_msgpack_hex', 'payload_json', 'meta'],
  encode: ['name', 'note', 'secret_hex', 'salt_hex', 'salt_text', 'issued_at', 'nonce_hex', 'max_token_len', 'payload_json', 'payload_msgpack_hex', 'payload_type', 'token', 'error'],
  keys: ['name', 'note', 'secrets_hex', 'salt_hex', 'error', 'key_ids'],
};

function assertKnownFields(list, v) {
  for (const field of Object.keys(v)) {
    assert.ok(KNOWN[list].includes(field), `vector ${v.name} has a field this reader does not know: ${field}`);
  }
}

function salt(v) {
  if (v.salt_text !== undefined) {
    assert.equal(toHex(new TextEncoder().encode(v.salt_text)), v.salt_hex);
    return v.salt_text;
  }
  return hex(v.salt_hex);
}

function serializer(v, maxAge) {
  return new TimedSerializer([hex(v.secret_hex), ...(v.fallback_secrets_hex ?? []).map(hex)], {
    salt: salt(v),
    maxAge: maxAge === undefined ? v.max_age : maxAge,
    leeway: v.leeway ?? 60,
    maxTokenLen: v.max_token_len ?? 8192,
  });
}

const KIND_CLASS = {
  TooLong: InvalidToken, Malformed: InvalidToken, UnsupportedVersion: InvalidToken, Invalid: InvalidToken,
  Payload: InvalidToken, UnknownKey: UnknownKey, Expired: TokenExpired, IssuedInFuture: TokenExpired,
};

/** Loads as the record {user_id: text, role: text}: the shape the invalid vectors ask for. */
function loadRecord(s, token, now) {
  const value = s.loadsAt(token, now);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map ||
      typeof value.user_id !== 'string' || typeof value.role !== 'string') {
    throw new InvalidToken('Payload');
  }
  return value;
}

for (const v of v1.valid) {
  test(`valid vector ${v.name}: encodes, seals byte for byte and loads back`, () => {
    assertKnownFields('valid', v);
    const s = serializer(v, 3600);
    assert.equal(s.keyIds[0], v.key_id);
    assert.equal(toHex(encode(v.payload_json)), v.payload_msgpack_hex);
    assert.equal(s._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
    assert.equal(s.dumpsAt(v.payload_json, v.issued_at).length, v.token.length);
    const { value, meta } = s.loadsWithMetaAt(v.token, v.issued_at);
    assertMatchesJson(value, v.payload_json);
    assert.equal(meta.age, 0);
    assert.equal(meta.keyIndex, 0);
  });
}

for (const v of v1.invalid) {
  test(`invalid vector ${v.name}: refused with ${v.error}`, () => {
    assertKnownFields('invalid', v);
    const s = serializer(v);
    assert.throws(() => loadRecord(s, v.token, v.now), (e) => {
      assert.ok(e instanceof BadToken && e instanceof KIND_CLASS[v.error], `${e.name} ${e.kind}`);
      assert.equal(e.kind, v.error);
      assert.ok(!e.message.includes(v.token.slice(0, 20)) || v.token.length < 20);
      return true;
    });
  });
}

for (const v of v1.decode) {
  test(`decode vector ${v.name}: loads with its metadata`, () => {
    assertKnownFields('decode', v);
    const s = serializer(v);
    const { value, meta } = s.loadsWithMetaAt(v.token, v.now);
    assert.deepEqual(value, decode(hex(v.payload_msgpack_hex)));
    if (v.payload_json !== undefined) assertMatchesJson(value, v.payload_json);
    assert.equal(meta.issuedAtUnix, v.meta.issued_at);
    assert.equal(meta.age, v.meta.age);
    assert.equal(meta.keyId, v.meta.key_id);
    assert.equal(meta.keyIndex, v.meta.key_index);
    assert.equal(meta.tokenId, v.meta.token_id);
    assert.equal(meta.expiresAtUnix, v.meta.expires_at);
    // The token is the plaintext sealed under the secret at key_index.
    const ring = [v.secret_hex, ...(v.fallback_secrets_hex ?? [])];
    const sealer = new TimedSerializer(hex(ring[v.meta.key_index]), { salt: salt(v), maxAge: null, maxTokenLen: v.max_token_len ?? 8192 });
    assert.equal(sealer._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
  });
}

for (const v of v1.encode) {
  test(`encode vector ${v.name}: ${v.error ? `refused with ${v.error}` : 'sealed byte for byte'}`, (t) => {
    assertKnownFields('encode', v);
    const s = serializer(v, 3600);
    const value = v.payload_json !== undefined || v.error === 'TooDeep' ? v.payload_json : decode(hex(v.payload_msgpack_hex));
    if (v.payload_type !== undefined) {
      // typed-record holds a Rust f32 (float 32): JavaScript has no 32-bit float type, so the
      // value cannot be built here; the sealing of its canonical bytes and their decoding are
      // checked instead.
      assert.equal(s._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
      const loaded = s.loadsAt(v.token, v.issued_at);
      assert.equal(loaded.ratio, 0.25);
      assert.deepEqual(loaded.raw, new Uint8Array([0, 255]));
      t.diagnostic('typed-record: f32 cannot be expressed in JavaScript; seal and decode checked');
      return;
    }
    const nestedTooDeep = v.error === 'TooDeep';
    if (v.error) {
      let input = value;
      if (nestedTooDeep) {
        // The payload bytes cannot be decoded (they are too deep): build the value directly.
        input = v.name.includes('maps') ? nest((x) => ({ k: x }), 129, 1) : nest((x) => [x], 129, 1);
        // Its canonical bytes are the vector's payload.
        assert.equal(v.payload_msgpack_hex, (v.name.includes('maps') ? '81a16b' : '91').repeat(129) + '01');
      }
      assert.throws(() => s.dumpsAt(input, v.issued_at), (e) => e instanceof EncodeError && e.kind === v.error);
      return;
    }
    assert.equal(toHex(encode(value)), v.payload_msgpack_hex);
    assert.equal(s._seal(encode(value), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
    if (v.name === 'numbers-one-number-type') {
      // SPEC.md 8: every number of this vector is written as a plain number exactly as the
      // vector says (the Float64s above are the same bytes by the other road).
      assert.equal(toHex(encode(plainNumbers(value))), v.payload_msgpack_hex);
    }
    if (v.payload_json !== undefined) assertMatchesJson(s.loadsAt(v.token, v.issued_at), v.payload_json);
  });
}

function nest(wrap, n, inner) {
  let x = inner;
  for (let i = 0; i < n; i++) x = wrap(x);
  return x;
}

for (const v of v1.keys) {
  test(`keys vector ${v.name}: ${v.error ?? 'key ids'}`, () => {
    assertKnownFields('keys', v);
    const build = () => new TimedSerializer(v.secrets_hex.map(hex), { salt: hex(v.salt_hex), maxAge: 1 });
    if (v.error) {
      assert.throws(build, (e) => e instanceof ConfigError && e.kind === v.error);
    } else {
      assert.deepEqual(build().keyIds, v.key_ids);
    }
  });
}
