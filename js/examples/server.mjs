// The example service of ../../shared/example-contract.md (the axum example's twin), on Hono
// and @hono/node-server:
//
//     cd js && npm ci && node examples/server.mjs
//
// Environment: PORT (3000), ITSCLASSIFIED_KEYS (comma-separated, primary first) or
// ITSCLASSIFIED_KEYS_FILE (one key a line, # comments; re-read on SIGHUP), REDIS_URL (shared
// revocations, key prefix "itsclassified-example:"), ITSCLASSIFIED_INSECURE_COOKIES=1 (plain
// HTTP development), ITSCLASSIFIED_SESSION_MAX_AGE / _RENEW_AFTER / _ABSOLUTE_LIFETIME.
import { readFile, stat } from 'node:fs/promises';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { serve } from '@hono/node-server';
import { TimedSerializer, SessionManager, MemoryStore, RedisStore, StoreUnavailable, BadToken, generateKey } from '../index.js';
import { BearerTokens, bearerToken } from '../src/bearer.js';
import { session as sessionMiddleware } from '../src/hono.js';
import { unavailableResponse } from '../src/web.js';

const log = (msg) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);

function seconds(name, fallback) {
  const text = process.env[name];
  if (text === undefined) return fallback;
  if (!/^\s*\d+\s*$/.test(text)) throw new Error(`${name} must be a whole number of seconds`);
  return Number(text.trim());
}

// ---- keys -------------------------------------------------------------------------------------

const keyFile = process.env.ITSCLASSIFIED_KEYS_FILE || null;

/** The keys of the key file: a regular file (never a FIFO, which could block), at most 64 KiB. */
async function readKeyFile(path) {
  const info = await stat(path);
  if (!info.isFile()) throw new Error('the key file is not a regular file');
  if (info.size > 65536) throw new Error('the key file is larger than 64 KiB');
  const keys = (await readFile(path, 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // Checked here (error messages never hold a key), so that a bad file changes nothing.
  new TimedSerializer(keys, { salt: 'check', maxAge: 1 });
  return keys;
}

let keys;
if (keyFile) {
  keys = await readKeyFile(keyFile);
} else if (process.env.ITSCLASSIFIED_KEYS !== undefined) {
  keys = process.env.ITSCLASSIFIED_KEYS.split(',').map((k) => k.trim()).filter(Boolean);
} else {
  log('WARN ITSCLASSIFIED_KEYS is not set: using a key generated for this run only (tokens and cookies issued now will not load after a restart)');
  keys = [generateKey()];
}

const sessionMaxAge = seconds('ITSCLASSIFIED_SESSION_MAX_AGE', 86400);
const renewAfter = seconds('ITSCLASSIFIED_SESSION_RENEW_AFTER', 43200);
const absoluteLifetime = seconds('ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME', 604800);
const LEEWAY = 60;
const BEARER_MAX_AGE = 900;
const insecure = process.env.ITSCLASSIFIED_INSECURE_COOKIES === '1';
if (insecure) log('WARN ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain HTTP (no Secure attribute). For local development only.');

// ---- the revocation store ---------------------------------------------------------------------

// The longest max age + leeway of the tokens the store checks: how long a cutoff is kept.
const retain = Math.max(BEARER_MAX_AGE, sessionMaxAge) + LEEWAY;
let store;
let redisClient = null;
if (process.env.REDIS_URL) {
  const { createClient } = await import('redis');
  redisClient = createClient({
    url: process.env.REDIS_URL,
    // Commands fail at once while disconnected (no queue that would hold a request); the store
    // bounds every command by its own timeout anyway.
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) },
  });
  let lastError = 0;
  redisClient.on('error', (e) => {
    if (Date.now() - lastError > 5000) log(`WARN redis: ${e.message}`);
    lastError = Date.now();
  });
  await redisClient.connect();
  store = new RedisStore(redisClient, { prefix: 'itsclassified-example:', retain, onError: (e) => log(`WARN the revocation store cannot answer: ${e?.message ?? e}`) });
  log('revocations go to Redis (REDIS_URL)');
} else {
  store = new MemoryStore({ retain });
  log('WARN REDIS_URL is not set: revocations are kept in this process only');
}

// ---- tokens and sessions ----------------------------------------------------------------------

const userId = (v) => (isUser(v) ? v.user_id : null);
const bearer = new BearerTokens(new TimedSerializer(keys, { salt: 'api-token', maxAge: BEARER_MAX_AGE, leeway: LEEWAY }), { store, subject: userId });
const sessions = new SessionManager(keys, {
  salt: 'session-cookie',
  maxAge: sessionMaxAge,
  leeway: LEEWAY,
  renewAfter,
  absoluteLifetime,
  maxChunks: 3,
  secure: !insecure,
  store,
  subject: userId,
});

function isUser(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.user_id === 'string' && typeof v.role === 'string';
}
const user = (v) => ({ user_id: v.user_id, role: v.role });

// ---- routes -----------------------------------------------------------------------------------

const app = new Hono();
app.use('*', async (c, next) => {
  const t0 = performance.now();
  await next();
  log(`${c.req.method} ${c.req.path} ${c.res.status} ${(performance.now() - t0).toFixed(1)} ms`);
});
app.use('*', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.json({ error: 'body too large' }, 413) }));
app.use('*', sessionMiddleware(sessions, { log: (m) => log(`ERROR ${m}`) }));

async function body(c) {
  try {
    return await c.req.json();
  } catch {
    return undefined;
  }
}

/** 'none', 'invalid', or { value, meta, token }; throws StoreUnavailable. */
async function presentedBearer(c) {
  const token = bearerToken(c.req.header('authorization'));
  if (token === undefined) return 'none';
  try {
    const loaded = await bearer.verify(token);
    return isUser(loaded.value) ? loaded : 'invalid';
  } catch (e) {
    if (e instanceof BadToken) return 'invalid';
    throw e;
  }
}

function challenge(c, error) {
  c.header('WWW-Authenticate', error ? 'Bearer error="invalid_token"' : 'Bearer');
  return c.body(null, 401);
}

app.post('/login', async (c) => {
  const u = await body(c);
  if (!isUser(u)) return c.json({ error: 'expected {"user_id": string, "role": string}' }, 400);
  const token = await bearer.issue(user(u));
  const s = c.get('session');
  s.clear();
  s.set(user(u));
  return c.json({ token });
});

app.get('/me', async (c) => {
  const b = await presentedBearer(c);
  if (b === 'none') return challenge(c, false);
  if (b === 'invalid') return challenge(c, true);
  return c.json({ user: user(b.value), token_age_secs: Number(b.meta.age) });
});

app.get('/session', (c) => {
  const v = c.get('session').get();
  return isUser(v) ? c.json(user(v)) : c.body(null, 401);
});

app.put('/session', async (c) => {
  const change = await body(c);
  const s = c.get('session');
  const v = s.get();
  if (!isUser(v)) return c.body(null, 401);
  if (change === null || typeof change !== 'object' || typeof change.role !== 'string') return c.json({ error: 'expected {"role": string}' }, 400);
  const next = { user_id: v.user_id, role: change.role };
  s.set(next);
  return c.json(next);
});

app.post('/logout', async (c) => {
  const b = await presentedBearer(c); // a stale, revoked or malformed token does not stop the logout
  if (typeof b === 'object') await bearer.revoke(b.meta);
  await c.get('session').logout();
  return c.body(null, 204);
});

app.post('/logout-all', async (c) => {
  const b = await presentedBearer(c);
  const s = c.get('session');
  const v = typeof b === 'object' ? b.value : s.get();
  if (!isUser(v)) return challenge(c, false);
  await store.revokeSubject(v.user_id, retain);
  s.clear();
  return c.body(null, 204);
});

app.onError((e, c) => {
  if (e instanceof StoreUnavailable) {
    log(`WARN the revocation store cannot answer: 503`);
    return unavailableResponse();
  }
  log(`ERROR ${e?.stack ?? e}`);
  return c.json({ error: 'internal error' }, 500);
});

// ---- serving, signals -------------------------------------------------------------------------

const port = Number(process.env.PORT ?? 3000);
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  log(`listening on http://127.0.0.1:${info.port}`);
});

let reloading = false;
process.on('SIGHUP', async () => {
  if (!keyFile) {
    log('SIGHUP: nothing to reload (no ITSCLASSIFIED_KEYS_FILE)');
    return;
  }
  if (reloading) {
    log('ERROR SIGHUP: the previous reload has not finished; the keys in force stay');
    return;
  }
  reloading = true;
  try {
    const next = await readKeyFile(keyFile);
    bearer.serializer.replaceKeys(next);
    sessions.replaceKeys(next);
    log(`SIGHUP: keys reloaded, key ids now ${sessions.serializer.keyIds.join(', ')}`);
  } catch (e) {
    log(`ERROR SIGHUP: keys not reloaded, the keys in force stay: ${e?.code ?? ''} ${e?.message ?? e}`);
  } finally {
    reloading = false;
  }
});

process.on('SIGTERM', () => {
  log('SIGTERM: shutting down');
  setTimeout(() => process.exit(0), 2000).unref();
  server.close(async () => {
    try {
      await redisClient?.destroy();
    } finally {
      process.exit(0);
    }
  });
  server.closeIdleConnections?.();
});
