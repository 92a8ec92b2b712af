// Session cookie names, chunks and Set-Cookie lines (SPEC.md 10.3, 10.4): pure functions.

export const LINE_LIMIT = 4096;
export const MAX_INDEX = 64;
const REMOVAL_EXPIRES = 'Expires=Thu, 01 Jan 1970 00:00:00 GMT';

function trimSpTab(s) {
  let a = 0, b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

function visibleAscii(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The chunk index of `name` for cookie `base` ("0", or [1-9][0-9]* below 64), else -1. */
export function chunkIndex(name, base) {
  if (name.length < base.length + 2 || !name.startsWith(base) || name.charCodeAt(base.length) !== 46) return -1;
  const idx = name.slice(base.length + 1);
  if (!/^(0|[1-9][0-9]?)$/.test(idx)) return -1;
  const k = Number(idx);
  return k < MAX_INDEX ? k : -1;
}

/**
 * The reader's join (SPEC.md 10.3): the candidates (singles in order, then the joined chunk set
 * when well-formed) and the session cookie names seen (whatever their values).
 * @param {string | string[] | null | undefined} headers the Cookie header field value(s)
 * @param {string} name @param {number} maxChunks @param {number} maxLen
 */
export function readCookies(headers, name, maxChunks, maxLen = Infinity) {
  const fields = headers == null ? [] : Array.isArray(headers) ? headers : [headers];
  const singles = [];
  /** @type {Map<number, string>} */
  const chunks = new Map();
  let chunkSetBad = false;
  let chunkLen = 0;
  const seen = new Set();
  for (const field of fields) {
    for (const piece of String(field).split(';')) {
      const eq = piece.indexOf('=');
      if (eq < 0) continue;
      const n = trimSpTab(piece.slice(0, eq));
      const v = trimSpTab(piece.slice(eq + 1));
      const k = n === name ? -2 : chunkIndex(n, name);
      if (k === -1) continue;
      seen.add(n);
      if (v === '' || !visibleAscii(v)) continue;
      if (k === -2) {
        singles.push(v);
      } else if (chunks.has(k)) {
        chunkSetBad = true;
      } else {
        chunks.set(k, v);
        chunkLen += v.length;
        // Refused as soon as it cannot make a token within the maximum length (10.3 step 4).
        if (chunkLen > maxLen) chunkSetBad = true;
      }
    }
  }
  const candidates = singles;
  const n = chunks.size;
  if (n > 0 && !chunkSetBad && n >= 2 && n <= maxChunks) {
    let joined = '';
    let ok = true;
    for (let i = 0; i < n; i++) {
      const part = chunks.get(i);
      if (part === undefined) { ok = false; break; }
      joined += part;
    }
    if (ok) candidates.push(joined);
  }
  return { candidates, seen };
}

/**
 * The attribute string of a line, starting with "; ", in the crate's order.
 * @param {{ sameSite: string, secure: boolean, path: string, domain?: string|null, partitioned: boolean }} c
 * @param {number | bigint} maxAge
 */
export function attributes(c, maxAge) {
  let a = `; HttpOnly; SameSite=${c.sameSite}`;
  if (c.secure) a += '; Secure';
  a += `; Path=${c.path}`;
  if (c.domain) a += `; Domain=${c.domain}`;
  a += `; Max-Age=${maxAge}`;
  if (c.partitioned) a += '; Partitioned';
  return a;
}

/** The removal line of cookie `name` (SPEC.md 10.4). */
export function removalLine(c, name) {
  let a = `${name}=; HttpOnly; SameSite=${c.sameSite}`;
  if (c.secure) a += '; Secure';
  a += `; Path=${c.path}`;
  if (c.domain) a += `; Domain=${c.domain}`;
  a += `; Max-Age=0; ${REMOVAL_EXPIRES}`;
  if (c.partitioned) a += '; Partitioned';
  return a;
}

export class TooManyChunks extends Error {
  constructor() {
    super('the session does not fit in maxChunks cookies of 4096 bytes: raise the setting maxChunks or store less');
    this.name = 'TooManyChunks';
  }
}

/**
 * The crate's greedy writer (SPEC.md 10.3): one line when it fits in 4096 bytes, else chunks.
 * @returns {{ lines: string[], names: string[] }}
 */
export function tokenLines(name, token, attrs, maxChunks) {
  const single = `${name}=${token}${attrs}`;
  if (single.length <= LINE_LIMIT) return { lines: [single], names: [name] };
  const lines = [];
  const names = [];
  let pos = 0;
  for (let k = 0; pos < token.length; k++) {
    const cookie = `${name}.${k}`;
    const room = LINE_LIMIT - cookie.length - 1 - attrs.length;
    if (room <= 0 || k >= maxChunks) throw new TooManyChunks();
    const part = token.slice(pos, pos + room);
    pos += part.length;
    lines.push(`${cookie}=${part}${attrs}`);
    names.push(cookie);
  }
  return { lines, names };
}
