// Hono middleware: `c.get('session')` is the request's Session.

import { finishResponse, unavailableResponse } from './web.js';
import { StoreUnavailable } from './session.js';

/**
 * app.use(session(manager)); then in a handler: const s = c.get('session'); s.get(); s.set(v).
 * A request whose session cannot be checked (the store is down) is answered 503 with
 * Retry-After, before the handler runs.
 */
export function session(manager, { key = 'session', log = console.error } = {}) {
  return async (c, next) => {
    const s = await manager.load(c.req.raw.headers.get('cookie'));
    if (s.unavailable) return unavailableResponse();
    c.set(key, s);
    try {
      await next();
    } catch (e) {
      if (e instanceof StoreUnavailable) {
        c.res = undefined;
        c.res = unavailableResponse();
        return;
      }
      throw e;
    }
    if (c.error instanceof StoreUnavailable) {
      c.res = undefined;
      c.res = unavailableResponse();
      return;
    }
    const res = await finishResponse(manager, s, c.res, log);
    if (res !== c.res) {
      c.res = undefined; // replaced whole: no header of the handler's response is carried over
      c.res = res;
    }
  };
}
