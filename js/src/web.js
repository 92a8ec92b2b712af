// Web-standard Request/Response glue (Next.js route handlers, Workers, Deno, Bun, Hono).

import { TooManyChunks, StoreUnavailable } from './session.js';
import { EncodeError } from './errors.js';

export function unavailableResponse() {
  return new Response(JSON.stringify({ error: 'the revocation store cannot answer' }), {
    status: 503,
    headers: { 'retry-after': '1', 'content-type': 'application/json', 'cache-control': 'no-store', vary: 'Cookie' },
  });
}

function tooLargeResponse() {
  return new Response(JSON.stringify({ error: 'internal error' }), { status: 500, headers: { 'content-type': 'application/json' } });
}

function addVary(headers) {
  const vary = headers.get('vary');
  if (!vary) return headers.set('vary', 'Cookie');
  const parts = vary.split(',').map((p) => p.trim().toLowerCase());
  if (!parts.includes('cookie') && !parts.includes('*')) headers.set('vary', `${vary}, Cookie`);
}

/**
 * Applies a session's outcome to a Response: the Set-Cookie lines and cache headers of SPEC.md
 * 10.4, or a 500 (a session too large; logged) or a 503 (the store cannot answer). Returns the
 * response to send (a new one when the headers were immutable or the answer changed).
 */
export async function finishResponse(manager, session, response, log = console.error) {
  let out;
  try {
    out = await manager.commit(session, { status: response.status, cacheControl: response.headers.get('cache-control') });
  } catch (e) {
    if (e instanceof StoreUnavailable) return unavailableResponse();
    if (e instanceof TooManyChunks || e instanceof EncodeError) {
      log(`itsclassified: the session cannot be written: ${e.message}`);
      return tooLargeResponse();
    }
    throw e;
  }
  if (session.unavailable) return unavailableResponse();
  let res = response;
  try {
    res.headers.append('x-itsclassified-probe', '1');
    res.headers.delete('x-itsclassified-probe');
  } catch {
    res = new Response(response.body, response); // immutable headers (a fetch() response)
  }
  for (const line of out.setCookie) res.headers.append('set-cookie', line);
  if (out.cacheControl !== null && out.cacheControl !== response.headers.get('cache-control')) res.headers.set('cache-control', out.cacheControl);
  if (out.vary) addVary(res.headers);
  return res;
}

/**
 * Wraps a fetch-style handler `(request, session, ...rest) => Response` with a session: for
 * Next.js route handlers, Cloudflare Workers, Deno.serve, Bun.serve.
 *
 *     export const GET = withSession(manager, async (request, session) => Response.json(session.get()));
 */
export function withSession(manager, handler, { log = console.error } = {}) {
  return async (request, ...rest) => {
    const session = await manager.load(request.headers.get('cookie'));
    if (session.unavailable) return unavailableResponse();
    let response;
    try {
      response = await handler(request, session, ...rest);
    } catch (e) {
      if (e instanceof StoreUnavailable) return unavailableResponse();
      throw e;
    }
    return finishResponse(manager, session, response, log);
  };
}
