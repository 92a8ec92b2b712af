// Node's http (and Express, Next.js pages/API routes) and iron-session-shaped getSession.
// Node-only glue around the web-standard core: no node: import is needed here either.

import { SessionManager, StoreUnavailable, TooManyChunks } from './session.js';
import { EncodeError } from './errors.js';

const utf8 = new TextEncoder();

function appendHeader(res, name, value) {
  if (typeof res.appendHeader === 'function') return res.appendHeader(name, value);
  const prev = res.getHeader(name);
  res.setHeader(name, prev === undefined ? [value] : [].concat(prev, value));
}

function addVary(res) {
  const vary = res.getHeader('Vary');
  const text = vary === undefined ? '' : [].concat(vary).join(', ');
  const parts = text.split(',').map((p) => p.trim().toLowerCase());
  if (!text) res.setHeader('Vary', 'Cookie');
  else if (!parts.includes('cookie') && !parts.includes('*')) res.setHeader('Vary', `${text}, Cookie`);
}

/** Writes a commit's outcome (Set-Cookie lines, Cache-Control, Vary) on a Node ServerResponse. */
export function applyToNodeResponse(res, out) {
  for (const line of out.setCookie) appendHeader(res, 'Set-Cookie', line);
  if (out.cacheControl !== null && out.cacheControl !== res.getHeader('Cache-Control')) res.setHeader('Cache-Control', out.cacheControl);
  if (out.vary) addVary(res);
}

function send503(res, end) {
  const body = JSON.stringify({ error: 'the revocation store cannot answer' });
  res.statusCode = 503;
  res.removeHeader('Set-Cookie');
  res.setHeader('Retry-After', '1');
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(utf8.encode(body).length));
  return end(body);
}

function send500(res, end) {
  const body = JSON.stringify({ error: 'internal error' });
  res.statusCode = 500;
  res.removeHeader('Set-Cookie');
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(utf8.encode(body).length));
  return end(body);
}

/**
 * Express (or Connect) middleware: `req.session` is the request's Session. The session is
 * committed when the response ends (res.send, res.json, res.end); a handler that streams with
 * res.write must `await req.session.commit()` first. A request whose session cannot be checked
 * (the store is down) is answered 503 with Retry-After before the handler runs.
 */
export function expressSession(manager, { log = console.error } = {}) {
  return async (req, res, next) => {
    let s;
    try {
      s = await manager.load(req.headers.cookie);
    } catch (e) {
      return next(e);
    }
    if (s.unavailable) return send503(res, res.end.bind(res));
    req.session = s;
    let committed = false;
    const commit = async () => {
      if (committed) return;
      committed = true;
      applyToNodeResponse(res, await manager.commit(s, { status: res.statusCode, cacheControl: res.getHeader('Cache-Control') ?? null }));
    };
    s.commit = commit;
    const end = res.end.bind(res);
    res.end = (...args) => {
      if (committed || res.headersSent) {
        if (!committed && s._action !== null) log('itsclassified: the session was changed after the headers were sent; it is not saved');
        return end(...args);
      }
      commit().then(
        () => end(...args),
        (e) => {
          if (e instanceof StoreUnavailable) return send503(res, end);
          if (e instanceof TooManyChunks || e instanceof EncodeError) {
            log(`itsclassified: the session cannot be written: ${e.message}`);
            return send500(res, end);
          }
          log(`itsclassified: ${e?.stack ?? e}`);
          return send500(res, end);
        },
      );
      return res;
    };
    next();
  };
}

// ---- getSession: iron-session's shape -----------------------------------------------------------

const managers = new WeakMap();
function managerFor(options) {
  if (options instanceof SessionManager) return options;
  if (options?.manager instanceof SessionManager) return options.manager;
  let m = managers.get(options);
  if (!m) {
    if (!options || options.keys === undefined) throw new TypeError('getSession needs options with keys (or a SessionManager as options.manager)');
    const { keys, ...rest } = options;
    m = new SessionManager(keys, rest);
    managers.set(options, m);
  }
  return m;
}

/** Parses one Set-Cookie line for a cookie store's set(name, value, options). */
function parseLine(line) {
  const [pair, ...attrs] = line.split('; ');
  const eq = pair.indexOf('=');
  const opts = { httpOnly: false, secure: false };
  for (const a of attrs) {
    const [k, v] = a.split('=');
    switch (k) {
      case 'HttpOnly': opts.httpOnly = true; break;
      case 'Secure': opts.secure = true; break;
      case 'SameSite': opts.sameSite = v.toLowerCase(); break;
      case 'Path': opts.path = v; break;
      case 'Domain': opts.domain = v; break;
      case 'Max-Age': opts.maxAge = Number(v); break;
      case 'Expires': opts.expires = new Date(0); break;
      case 'Partitioned': opts.partitioned = true; break;
    }
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), opts };
}

function isCookieStore(x) {
  return x && typeof x.get === 'function' && typeof x.set === 'function' && typeof x.getAll === 'function';
}

/**
 * The session as a plain object, iron-session style:
 *
 *     const session = await getSession(req, res, options);   // Node http, Express, Next.js pages
 *     const session = await getSession(await cookies(), options); // Next.js App Router
 *     session.user = { id: '1' }; await session.save();
 *     session.destroy();                                     // or: await session.logout()
 *
 * options: `{ keys, ...SessionManager options }` (built once per options object) or
 * `{ manager }`. The session value must be a plain object. Throws StoreUnavailable when the
 * revocation store cannot answer (answer 503).
 */
export async function getSession(a, b, c) {
  let header, write, options;
  if (isCookieStore(a)) {
    options = b;
    header = a.getAll().map((x) => `${x.name}=${x.value}`).join('; ');
    write = (out) => {
      for (const line of out.setCookie) {
        const { name, value, opts } = parseLine(line);
        a.set(name, value, opts);
      }
    };
  } else if (a && a.headers && b && typeof b.setHeader === 'function') {
    options = c;
    header = a.headers.cookie;
    write = (out) => {
      if (b.headersSent) throw new Error('the session cannot be saved: the response headers are already sent');
      applyToNodeResponse(b, out);
    };
  } else {
    throw new TypeError('getSession(req, res, options) or getSession(cookieStore, options)');
  }
  const m = managerFor(options);
  const s = await m.load(header);
  if (s.unavailable) throw new StoreUnavailable();
  const value = s.get();
  const session = Object.create(null);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) Object.assign(session, value);
  const data = () => Object.fromEntries(Object.entries(session).filter(([, v]) => v !== undefined));
  Object.defineProperties(session, {
    save: {
      value: async () => {
        s.set(data());
        write(await m.commit(s));
      },
    },
    destroy: {
      value: () => {
        for (const k of Object.keys(session)) delete session[k];
        s.clear();
        // Removal lines only: commit does not wait on the store for a clear.
        return m.commit(s).then(write);
      },
    },
    logout: {
      value: async () => {
        await s.logout();
        for (const k of Object.keys(session)) delete session[k];
        write(await m.commit(s));
      },
    },
    id: { get: () => s.id },
  });
  return session;
}
