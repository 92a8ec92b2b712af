// The token and session vector checks inside workerd, the Cloudflare Workers runtime, through
// Miniflare: the package bundled by esbuild (as a Worker deploy would), with no Node APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { loadVectors } from './helpers.js';

test('every token and session vector passes inside workerd', async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./workerd/worker.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    loader: { '.json': 'text' }, // parsed by parseJsonLossless (SPEC.md section 8)
    logLevel: 'silent',
  });
  const mf = new Miniflare({ modules: true, script: bundle.outputFiles[0].text, compatibilityDate: '2024-09-23' });
  try {
    const res = await mf.dispatchFetch('http://worker/');
    assert.match(res.headers.get('x-runtime'), /Cloudflare-Workers/);
    const { passed, failed } = await res.json();
    assert.deepEqual(failed, []);
    const v1 = loadVectors('v1.json');
    const sv = loadVectors('sessions.json');
    const count = (o, lists) => lists.reduce((n, l) => n + o[l].length, 0);
    const expected = count(v1, ['valid', 'invalid', 'decode', 'encode', 'keys']) +
      count(sv, ['envelopes', 'invalid_envelopes', 'accepted_envelopes', 'chunks', 'cookie_headers']) + 1;
    assert.equal(passed, expected, 'every vector was checked');
  } finally {
    await mf.dispose();
  }
});
