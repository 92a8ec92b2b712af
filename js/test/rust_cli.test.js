// Cross-checks with the Rust crate's command-line tool, both ways: tokens made here load there,
// and tokens made there load here. The CLI is built with `cargo build --features cli` (CI has
// cargo); without cargo the tests are skipped, except under CI=true, where that is a failure.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { TimedSerializer, generateKey } from '../index.js';
import { root, parseJson } from './helpers.js';

let cli = process.env.ITSCLASSIFIED_CLI ?? null;
let skip = false;
before(() => {
  if (cli) return;
  const cargo = spawnSync('cargo', ['--version']);
  if (cargo.error) {
    if (process.env.CI === 'true') throw new Error('cargo is not installed: the Rust cross-checks cannot run');
    skip = 'cargo is not installed';
    return;
  }
  execFileSync('cargo', ['build', '--features', 'cli', '--locked', '--quiet'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  const target = process.env.CARGO_TARGET_DIR ?? `${root}target`;
  cli = `${target}/debug/itsclassified`;
  assert.ok(existsSync(cli), `no CLI at ${cli}`);
});

const key = generateKey();
const oldKey = generateKey();

function run(args, input, keys = key) {
  const r = spawnSync(cli, args, { input, env: { ...process.env, ITSCLASSIFIED_KEYS: keys }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The CLI's JSON form of a value (bin as {"$bin": base64}, non-text keys as {"$map": ...}). */
function toCliJson(v) {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return JSON.stringify({ $bin: btoa(String.fromCharCode(...v)) });
  if (Array.isArray(v)) return `[${v.map(toCliJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toCliJson(x)}`).join(',')}}`;
  return JSON.stringify(v);
}
function fromCli(v) {
  if (Array.isArray(v)) return v.map(fromCli);
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$bin') return Uint8Array.from(atob(v.$bin), (c) => c.charCodeAt(0));
    return Object.fromEntries(keys.map((k) => [k, fromCli(v[k])]));
  }
  return v;
}

const payloads = [
  { user_id: '123', role: 'admin' },
  null,
  'h\u00e9llo \u2603 \ud83d\udd12',
  [0, 127, 128, 65535, 4294967296, 18446744073709551615n, -1, -33, -9223372036854775808n, 1.5, true, false],
  { a: { b: { c: [[], {}, [1, [2, [3]]]] } } },
  { raw: new Uint8Array([0, 1, 255]), big: 2n ** 60n, neg: -(2n ** 60n), f: -0.25 },
  'x'.repeat(5000),
];

test('tokens made here load in the Rust CLI with the same payload, key id and issued-at', (t) => {
  if (skip) return t.skip(skip);
  const s = new TimedSerializer(key, { salt: 'cross', maxAge: 3600 });
  for (const p of payloads) {
    const token = s.dumpsAt(p, 1_700_000_000);
    const r = run(['loads', '--salt', 'cross', '--max-age', '1h', '--now', '1700000010', '--meta'], token);
    assert.equal(r.status, 0, r.err);
    const got = parseJson(r.out);
    assert.deepEqual(fromCli(got.payload), p);
    assert.equal(got.meta.key_id, s.keyIds[0]);
    assert.equal(got.meta.issued_at_unix, 1_700_000_000);
    assert.equal(got.meta.age_seconds, 10);
  }
});

test('tokens made by the Rust CLI load here', (t) => {
  if (skip) return t.skip(skip);
  const s = new TimedSerializer(key, { salt: 'cross', maxAge: 3600 });
  for (const p of payloads) {
    const r = run(['dumps', '--salt', 'cross', '--issued-at', '1700000000'], toCliJson(p));
    assert.equal(r.status, 0, r.err);
    const { value, meta } = s.loadsWithMetaAt(r.out.trim(), 1_700_000_000);
    assert.deepEqual(value, p);
    assert.equal(meta.keyIndex, 0);
  }
});

test('key rotation across implementations: a Rust token under the old key loads here with key index 1, and our reissue loads there under the new primary', (t) => {
  if (skip) return t.skip(skip);
  const r = run(['dumps', '--salt', 'rot'], '{"n": 1}', oldKey);
  const s = new TimedSerializer([key, oldKey], { salt: 'rot', maxAge: 60 });
  assert.equal(s.loadsWithMeta(r.out.trim()).meta.keyIndex, 1);
  const re = s.reissue(r.out.trim());
  const back = run(['loads', '--salt', 'rot', '--max-age', '60s', '--meta'], re, key);
  assert.equal(back.status, 0, back.err);
  assert.equal(parseJson(back.out).meta.key_index, 0);
});

test('the Rust CLI refuses what this implementation refuses: other salt, other key, expired', (t) => {
  if (skip) return t.skip(skip);
  const s = new TimedSerializer(key, { salt: 'cross', maxAge: 3600 });
  const token = s.dumpsAt({ a: 1 }, 1_700_000_000);
  assert.notEqual(run(['loads', '--salt', 'other', '--max-age', '1h', '--now', '1700000000'], token).status, 0);
  assert.notEqual(run(['loads', '--salt', 'cross', '--max-age', '1h', '--now', '1700000000'], token, generateKey()).status, 0);
  assert.notEqual(run(['loads', '--salt', 'cross', '--max-age', '1h', '--now', '1700003601'], token).status, 0);
  assert.throws(() => s.loadsAt(token, 1_700_003_601), { kind: 'Expired' });
});

test('random JSON payloads round-trip through the Rust CLI both ways', (t) => {
  if (skip) return t.skip(skip);
  const s = new TimedSerializer(key, { salt: 'prop', maxAge: 3600 });
  // Doubles the CLI's JSON would print as integers (1e300 as 1e300 stays a float; -0 and
  // integral values are out: JSON cannot tell 1.0 from 1).
  const value = fc.jsonValue({ maxDepth: 4 }).filter((v) => !JSON.stringify(v).match(/e\+|-0\b/));
  fc.assert(
    fc.property(value, (v) => {
      const norm = parseJson(JSON.stringify(v));
      const there = run(['loads', '--salt', 'prop', '--max-age', '1h'], s.dumps(norm));
      assert.equal(there.status, 0, there.err);
      assert.deepEqual(parseJson(there.out), norm);
      const back = run(['dumps', '--salt', 'prop'], JSON.stringify(v));
      assert.equal(back.status, 0, back.err);
      assert.deepEqual(s.loads(back.out.trim()), norm);
    }),
    { numRuns: 25 },
  );
});
