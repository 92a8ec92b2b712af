// The vector checks of tests/vectors/ inside workerd (bundled by test/workerd.test.js with
// esbuild, run by Miniflare): the token and session code on the Workers runtime.
import { TimedSerializer, SessionManager, BadToken, ConfigError, EncodeError } from '../../index.js';
import { encode, decode, encodeEnvelope } from '../../src/msgpack.js';
import { readCookies, tokenLines } from '../../src/cookies.js';
import { hex, toHex, parseJsonLossless, jsonMismatch, plainNumbers } from '../json.js';
import v1Text from '../../../tests/vectors/v1.json';
import sessionsText from '../../../tests/vectors/sessions.json';

function eq(a, b, what) {
  const x = stable(a), y = stable(b);
  if (x !== y) throw new Error(`${what}: ${x.slice(0, 80)} != ${y.slice(0, 80)}`);
}
function stable(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bin:${toHex(x)}` : x));
}
/** payload_json matching by SPEC.md section 8 (1.0 and 1, -0 and 0 told apart). */
function matches(value, json, what) {
  const why = jsonMismatch(value, json);
  if (why) throw new Error(`${what}: ${why}`);
}
function throwsKind(fn, kind, cls) {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls) || e.kind !== kind) throw new Error(`expected ${kind}, got ${e?.name} ${e?.kind}`);
    return;
  }
  throw new Error(`expected ${kind}, nothing thrown`);
}
const salt = (v) => (v.salt_text !== undefined ? v.salt_text : hex(v.salt_hex));
const ser = (v, maxAge) => new TimedSerializer([hex(v.secret_hex), ...(v.fallback_secrets_hex ?? []).map(hex)], {
  salt: salt(v), maxAge: maxAge === undefined ? v.max_age : maxAge, leeway: v.leeway ?? 60, maxTokenLen: v.max_token_len ?? 8192,
});

async function run() {
  // Read losslessly (SPEC.md section 8): floats as Float64, integers exact, members in order.
  const v1 = parseJsonLossless(v1Text);
  const sv = parseJsonLossless(sessionsText);
  const results = { passed: 0, failed: [] };
  const check = async (name, fn) => {
    try {
      await fn();
      results.passed++;
    } catch (e) {
      results.failed.push(`${name}: ${e.message}`);
    }
  };
  for (const v of v1.valid) await check(`valid ${v.name}`, () => {
    const s = ser(v, 3600);
    eq(s.keyIds[0], v.key_id, 'key id');
    eq(toHex(encode(v.payload_json)), v.payload_msgpack_hex, 'msgpack');
    eq(s._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token, 'token');
    matches(s.loadsAt(v.token, v.issued_at), v.payload_json, 'payload');
  });
  for (const v of v1.invalid) await check(`invalid ${v.name}`, () => {
    const s = ser(v);
    throwsKind(() => {
      const value = s.loadsAt(v.token, v.now);
      if (typeof value?.user_id !== 'string' || typeof value?.role !== 'string') throw new BadToken('Payload');
    }, v.error, BadToken);
  });
  for (const v of v1.decode) await check(`decode ${v.name}`, () => {
    const { value, meta } = ser(v).loadsWithMetaAt(v.token, v.now);
    eq(value, decode(hex(v.payload_msgpack_hex)), 'payload');
    if (v.payload_json !== undefined) matches(value, v.payload_json, 'payload_json');
    eq([meta.issuedAtUnix, meta.age, meta.keyId, meta.keyIndex, meta.tokenId, meta.expiresAtUnix],
      [v.meta.issued_at, v.meta.age, v.meta.key_id, v.meta.key_index, v.meta.token_id, v.meta.expires_at], 'meta');
  });
  for (const v of v1.encode) await check(`encode ${v.name}`, () => {
    const s = ser(v, 3600);
    if (v.payload_type !== undefined) {
      eq(s._seal(hex(v.payload_msgpack_hex), BigInt(v.issued_at), hex(v.nonce_hex)), v.token, 'token');
    } else if (v.error === 'TooDeep') {
      let x = 1;
      for (let i = 0; i < 129; i++) x = v.name.includes('maps') ? { k: x } : [x];
      throwsKind(() => s.dumpsAt(x, v.issued_at), 'TooDeep', EncodeError);
    } else if (v.error) {
      const value = v.payload_json !== undefined ? v.payload_json : decode(hex(v.payload_msgpack_hex));
      throwsKind(() => s.dumpsAt(value, v.issued_at), v.error, EncodeError);
    } else {
      const value = v.payload_json !== undefined ? v.payload_json : decode(hex(v.payload_msgpack_hex));
      eq(toHex(encode(value)), v.payload_msgpack_hex, 'msgpack');
      eq(s._seal(encode(value), BigInt(v.issued_at), hex(v.nonce_hex)), v.token, 'token');
      if (v.name === 'numbers-one-number-type') eq(toHex(encode(plainNumbers(value))), v.payload_msgpack_hex, 'plain numbers');
    }
  });
  for (const v of v1.keys) await check(`keys ${v.name}`, () => {
    const build = () => new TimedSerializer(v.secrets_hex.map(hex), { salt: hex(v.salt_hex), maxAge: 1 });
    if (v.error) throwsKind(build, v.error, ConfigError);
    else eq(build().keyIds, v.key_ids, 'key ids');
  });
  const manager = (v, maxAge = 86400) => new SessionManager(hex(v.secret_hex), { salt: v.salt_text, maxAge, maxChunks: 16, cookieName: 'session', secure: false });
  const header = (t) => (t.length < 4000 ? `session=${t}` : Array.from({ length: Math.ceil(t.length / 4000) }, (_, i) => `session.${i}=${t.slice(i * 4000, (i + 1) * 4000)}`).join('; '));
  for (const v of sv.envelopes) await check(`envelope ${v.name}`, async () => {
    const m = manager(v);
    const pt = encodeEnvelope(v.value_json, hex(v.session_id_hex), BigInt(v.start));
    eq(toHex(pt), v.payload_msgpack_hex, 'envelope');
    eq(m.serializer._seal(pt, BigInt(v.issued_at), hex(v.nonce_hex)), v.token, 'token');
    const s = await m.load(header(v.token), { now: v.issued_at });
    eq([s.get(), s.id, s.start], [v.value_json, v.session_id, BigInt(v.start)], 'session');
  });
  for (const v of sv.invalid_envelopes) await check(`invalid envelope ${v.name}`, async () => {
    const s = await manager(v, v.max_age).load(`session=${v.token}`, { now: v.now });
    eq(s.loaded, false, 'refused');
  });
  for (const v of sv.accepted_envelopes) await check(`accepted envelope ${v.name}`, async () => {
    const s = await manager(v, v.max_age).load(`session=${v.token}`, { now: v.now });
    eq([s.get(), s.start], [v.value_json, BigInt(v.start)], 'session');
  });
  for (const v of sv.chunks) await check(`chunks ${v.name}`, () => {
    if (v.error) {
      let threw = false;
      try { tokenLines(v.cookie_name, v.token, v.attributes, v.max_chunks); } catch (e) { threw = e.name === v.error; }
      eq(threw, true, v.error);
    } else {
      eq(tokenLines(v.cookie_name, v.token, v.attributes, v.max_chunks).lines, v.set_cookie_lines, 'lines');
    }
  });
  for (const v of sv.cookie_headers) await check(`cookie header ${v.name}`, () => {
    eq(readCookies(v.cookie_header, v.cookie_name, v.max_chunks).candidates, v.candidates, 'candidates');
  });
  await check('dumps/loads with fresh nonces and the clock of workerd', async () => {
    const s = new TimedSerializer(new Uint8Array(32).fill(7), { salt: 'w', maxAge: 60 });
    eq(s.loads(s.dumps({ a: [1, 2n ** 60n, 'é'] })), { a: [1, 2n ** 60n, 'é'] }, 'round trip');
    const m = new SessionManager(new Uint8Array(32).fill(7));
    const a = await m.load(null);
    a.set({ user_id: '1' });
    const out = await m.commit(a);
    const b = await m.load(out.setCookie[0].split(';')[0]);
    eq(b.get(), { user_id: '1' }, 'session');
  });
  return results;
}

export default {
  async fetch() {
    return Response.json(await run(), { headers: { 'x-runtime': typeof navigator !== 'undefined' ? String(navigator.userAgent) : 'unknown' } });
  },
};
