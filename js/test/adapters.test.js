// The adapters over real servers and real Request/Response objects: Express, Hono, the Web
// helper (Next.js route handlers, Workers), and getSession on Node's http.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { Hono } from 'hono';
import { SessionManager, MemoryStore, StoreUnavailable, generateKey, expressSession, honoSession, withSession, getSession } from '../index.js';

const key = generateKey();
const cookieOf = (setCookies) => setCookies.map((l) => l.split(';')[0]).filter((p) => !p.endsWith('=')).join('; ');
const downStore = { isSessionRevoked: async () => { throw new StoreUnavailable(); }, cutoff: async () => { throw new StoreUnavailable(); } };

async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, close: () => new Promise((r) => server.close(r)) };
}

test('Express: a session set in one request reads back in the next, with private caching and Vary', async () => {
  const m = new SessionManager(key, { secure: false });
  const app = express();
  app.use(expressSession(m));
  app.post('/in', (req, res) => { req.session.set({ user: 'ann' }); res.json({ ok: true }); });
  app.get('/me', (req, res) => res.json(req.session.get()));
  app.post('/out', (req, res) => { req.session.clear(); res.status(204).end(); });
  const srv = await listen(app);
  try {
    const r1 = await fetch(`${srv.base}/in`, { method: 'POST' });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get('cache-control'), 'private');
    assert.match(r1.headers.get('vary'), /Cookie/);
    const cookie = cookieOf(r1.headers.getSetCookie());
    assert.match(cookie, /^session=/);
    const r2 = await fetch(`${srv.base}/me`, { headers: { cookie } });
    assert.deepEqual(await r2.json(), { user: 'ann' });
    const r3 = await fetch(`${srv.base}/out`, { method: 'POST', headers: { cookie } });
    assert.match(r3.headers.getSetCookie()[0], /^session=; .*Max-Age=0/);
  } finally {
    await srv.close();
  }
});

test('Express: a store that cannot answer gives 503 with Retry-After and no Set-Cookie', async () => {
  const ok = new SessionManager(key, { secure: false });
  const s = await ok.load(null);
  s.set('x');
  const cookie = cookieOf((await ok.commit(s)).setCookie);
  const app = express();
  app.use(expressSession(new SessionManager(key, { secure: false, store: downStore, subject: () => 'u' })));
  app.get('/', (req, res) => res.json(req.session.get()));
  app.post('/new', (req, res) => { req.session.set({ user: 'x' }); res.json({}); });
  const srv = await listen(app);
  try {
    const r = await fetch(srv.base, { headers: { cookie } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.deepEqual(r.headers.getSetCookie(), []);
    const n = await fetch(`${srv.base}/new`, { method: 'POST' });
    assert.equal(n.status, 503, 'a new session cannot be issued without the cutoff lookup');
    assert.deepEqual(n.headers.getSetCookie(), []);
  } finally {
    await srv.close();
  }
});

test('Hono: the middleware sets, reads and answers 500 without Set-Cookie for a session too large', async () => {
  const m = new SessionManager(key, { secure: false });
  const app = new Hono();
  app.use('*', honoSession(m, { log: () => {} }));
  app.post('/in', (c) => { c.get('session').set({ n: 1 }); return c.json({ ok: true }); });
  app.get('/me', (c) => c.json(c.get('session').get()));
  app.post('/huge', (c) => { c.get('session').set('x'.repeat(5000)); return c.json({ ok: true }); });
  const r1 = await app.request('/in', { method: 'POST' });
  const cookie = cookieOf(r1.headers.getSetCookie());
  assert.deepEqual(await (await app.request('/me', { headers: { cookie } })).json(), { n: 1 });
  const big = await app.request('/huge', { method: 'POST' });
  assert.equal(big.status, 500);
  assert.deepEqual(big.headers.getSetCookie(), []);
});

test('Web: withSession wraps a fetch-style handler (Next.js route handler, Worker)', async () => {
  const m = new SessionManager(key, { secure: false });
  const POST = withSession(m, async (request, session) => {
    session.set(await request.json());
    return Response.json({ ok: true }, { headers: { 'cache-control': 'public, max-age=60' } });
  });
  const GET = withSession(m, async (_request, session) => Response.json(session.get()));
  const r1 = await POST(new Request('http://x/', { method: 'POST', body: JSON.stringify({ a: 1 }) }));
  assert.equal(r1.headers.get('cache-control'), 'private, max-age=60');
  const cookie = cookieOf(r1.headers.getSetCookie());
  const r2 = await GET(new Request('http://x/', { headers: { cookie } }));
  assert.deepEqual(await r2.json(), { a: 1 });
  // A fetch() response has immutable headers: the helper answers with a copy.
  const proxied = withSession(m, async (_r, session) => { session.set(2); return Response.redirect('http://x/next', 302); });
  const r3 = await proxied(new Request('http://x/'));
  assert.equal(r3.status, 302);
  assert.equal(r3.headers.getSetCookie().length, 1);
});

test('getSession(req, res, options) has the iron-session shape: properties, save(), destroy(), logout()', async () => {
  const options = { keys: key, secure: false, store: new MemoryStore() };
  const srv = await listen(async (req, res) => {
    const session = await getSession(req, res, options);
    if (req.url === '/login') {
      session.user = { id: '7' };
      await session.save();
    } else if (req.url === '/destroy') {
      await session.destroy();
    } else if (req.url === '/logout') {
      await session.logout();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...session }));
  });
  try {
    const r1 = await fetch(`${srv.base}/login`);
    const cookie = cookieOf(r1.headers.getSetCookie());
    assert.deepEqual(await (await fetch(`${srv.base}/`, { headers: { cookie } })).json(), { user: { id: '7' } });
    const d = await fetch(`${srv.base}/destroy`, { headers: { cookie } });
    assert.deepEqual(await d.json(), {});
    assert.match(d.headers.getSetCookie()[0], /Max-Age=0/);
    await fetch(`${srv.base}/logout`, { headers: { cookie } });
    assert.deepEqual(await (await fetch(`${srv.base}/`, { headers: { cookie } })).json(), {}, 'after logout the copy is refused');
  } finally {
    await srv.close();
  }
});

test("getSession(cookieStore, options) works with a Next.js-style cookie store (get/getAll/set)", async () => {
  // The interface of next/headers cookies(); a Map-backed stand-in, since Next.js is not a dependency.
  const jar = new Map();
  const store = {
    get: (name) => (jar.has(name) ? { name, value: jar.get(name).value } : undefined),
    getAll: () => [...jar].map(([name, { value }]) => ({ name, value })),
    set: (name, value, opts) => { if (opts.maxAge === 0) jar.delete(name); else jar.set(name, { value, opts }); },
  };
  const options = { keys: key };
  const session = await getSession(store, options);
  session.cart = [1, 2];
  await session.save();
  assert.equal(jar.get('__Host-session').opts.secure, true);
  assert.equal(jar.get('__Host-session').opts.httpOnly, true);
  assert.equal(jar.get('__Host-session').opts.sameSite, 'lax');
  assert.deepEqual({ ...(await getSession(store, options)) }, { cart: [1, 2] });
  await (await getSession(store, options)).destroy();
  assert.equal(jar.size, 0);
});
