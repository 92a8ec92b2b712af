// Every vector of tests/vectors/sessions.json (SPEC.md 10.7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionManager, TooManyChunks } from '../index.js';
import { encodeEnvelope } from '../src/msgpack.js';
import { readCookies, tokenLines, attributes } from '../src/cookies.js';
import { loadVectors, hex, toHex } from './helpers.js';

const sv = loadVectors('sessions.json');

test('the session vector file is version 1 of the session profile', () => {
  assert.equal(sv.version, 1);
  assert.equal(sv.profile, 'session');
  assert.deepEqual(Object.keys(sv).sort(), ['accepted_envelopes', 'chunks', 'cookie_headers', 'envelopes', 'invalid_envelopes', 'profile', 'version']);
});

const KNOWN = {
  envelopes: ['name', 'note', 'secret_hex', 'salt_text', 'key_id', 'issued_at', 'nonce_hex', 'session_id_hex', 'session_id', 'start', 'value_json', 'payload_msgpack_hex', 'token'],
  invalid_envelopes: ['name', 'note', 'secret_hex', 'salt_text', 'issued_at', 'nonce_hex', 'payload_msgpack_hex', 'token', 'now', 'max_age'],
  accepted_envelopes: ['name', 'note', 'secret_hex', 'salt_text', 'issued_at', 'nonce_hex', 'payload_msgpack_hex', 'token', 'now', 'max_age', 'session_id_hex', 'start', 'value_json'],
  chunks: ['name', 'note', 'cookie_name', 'token_from', 'token', 'max_chunks', 'attributes', 'set_cookie_lines', 'line_lengths', 'error'],
  cookie_headers: ['name', 'note', 'cookie_name', 'max_chunks', 'cookie_header', 'candidates'],
};
function known(list, v) {
  for (const f of Object.keys(v)) assert.ok(KNOWN[list].includes(f), `${v.name}: unknown field ${f}`);
}

function manager(v, maxAge = 86400) {
  // The largest vector token is 43000 characters: 11 chunks' worth.
  return new SessionManager(hex(v.secret_hex), { salt: v.salt_text, maxAge, maxChunks: 16, cookieName: 'session', secure: false });
}
const cookie = (token) => `session=${token}`;

for (const v of sv.envelopes) {
  test(`envelope vector ${v.name}: written byte for byte, sealed, and opened as a session`, async () => {
    known('envelopes', v);
    const m = manager(v);
    assert.equal(m.serializer.keyIds[0], v.key_id);
    const plaintext = encodeEnvelope(v.value_json, hex(v.session_id_hex), BigInt(v.start));
    assert.equal(toHex(plaintext), v.payload_msgpack_hex);
    assert.equal(m.serializer._seal(plaintext, BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
    const header = v.token.length + 8 <= 4096 ? cookie(v.token) : chunked(v.token);
    const s = await m.load(header, { now: v.issued_at });
    assert.ok(s.loaded);
    assert.deepEqual(s.get(), v.value_json);
    assert.equal(s.id, v.session_id);
    assert.equal(s.start, BigInt(v.start));
    assert.equal(s.issuedAt, BigInt(v.issued_at));
  });
}

function chunked(token) {
  const parts = [];
  for (let i = 0; i * 4000 < token.length; i++) parts.push(`session.${i}=${token.slice(i * 4000, (i + 1) * 4000)}`);
  return parts.join('; ');
}

for (const v of sv.invalid_envelopes) {
  test(`invalid envelope vector ${v.name}: an authentic token, refused as a session (empty)`, async () => {
    known('invalid_envelopes', v);
    const m = manager(v, v.max_age);
    // Authentic, and a v1 token of some value: the token layer loads it.
    assert.equal(m.serializer._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
    m.serializer.loadsAt(v.token, v.now);
    const s = await m.load(cookie(v.token), { now: v.now });
    assert.equal(s.loaded, false);
    assert.equal(s.get(), null);
  });
}

for (const v of sv.accepted_envelopes) {
  test(`accepted envelope vector ${v.name}: a non-canonical envelope a reader accepts`, async () => {
    known('accepted_envelopes', v);
    const m = manager(v, v.max_age);
    assert.equal(m.serializer._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token);
    const s = await m.load(cookie(v.token), { now: v.now });
    assert.ok(s.loaded);
    assert.deepEqual(s.get(), v.value_json);
    assert.equal(toHex(Uint8Array.from(atob(s.id.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))), v.session_id_hex);
    assert.equal(s.start, BigInt(v.start));
  });
}

function parseAttributes(a) {
  // "; HttpOnly; SameSite=None; Secure; Path=/; Domain=example.com; Max-Age=3600; Partitioned"
  const parts = a.split('; ').slice(1);
  const get = (k) => parts.find((p) => p.startsWith(`${k}=`))?.slice(k.length + 1) ?? null;
  return {
    config: { sameSite: get('SameSite'), secure: parts.includes('Secure'), path: get('Path'), domain: get('Domain'), partitioned: parts.includes('Partitioned') },
    maxAge: Number(get('Max-Age')),
  };
}

for (const v of sv.chunks) {
  test(`chunk vector ${v.name}: the greedy writer ${v.error ? `fails with ${v.error}` : `writes ${v.set_cookie_lines.length} line(s)`}`, async () => {
    known('chunks', v);
    const env = sv.envelopes.find((e) => e.name === v.token_from);
    assert.equal(env.token, v.token);
    const { config, maxAge } = parseAttributes(v.attributes);
    assert.equal(attributes(config, maxAge), v.attributes, 'the attribute string is rebuilt from its settings');
    if (v.error) {
      assert.equal(v.error, 'TooManyChunks');
      assert.throws(() => tokenLines(v.cookie_name, v.token, v.attributes, v.max_chunks), TooManyChunks);
      return;
    }
    const { lines } = tokenLines(v.cookie_name, v.token, v.attributes, v.max_chunks);
    assert.deepEqual(lines, v.set_cookie_lines);
    assert.deepEqual(lines.map((l) => new TextEncoder().encode(l).length), v.line_lengths);
    // And the lines read back as the token.
    const header = lines.map((l) => l.split(';')[0]).join('; ');
    assert.deepEqual(readCookies(header, v.cookie_name, v.max_chunks).candidates, [v.token]);
    // A manager with these settings writes the same lines for this token's session.
    const m = new SessionManager(hex(env.secret_hex), {
      salt: env.salt_text, maxAge, maxChunks: v.max_chunks, cookieName: v.cookie_name,
      sameSite: config.sameSite, secure: config.secure, path: config.path, domain: config.domain ?? undefined, partitioned: config.partitioned,
    });
    const s = await m.load(header, { now: env.issued_at });
    assert.ok(s.loaded, 'the chunked cookie loads');
  });
}

for (const v of sv.cookie_headers) {
  test(`cookie header vector ${v.name}: candidates ${JSON.stringify(v.candidates).slice(0, 40)}`, () => {
    known('cookie_headers', v);
    assert.deepEqual(readCookies(v.cookie_header, v.cookie_name, v.max_chunks).candidates, v.candidates);
  });
}
