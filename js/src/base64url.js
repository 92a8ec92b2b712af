// Canonical unpadded base64url (SPEC.md 4.1), web-standard code only.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** @param {Uint8Array} bytes */
export function encode(bytes) {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + ALPHABET[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63];
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63];
  }
  return out;
}

/**
 * Strict decoding: only the URL-safe alphabet, no padding, no length 4k+1, and zero unused bits
 * in the last character, so every byte string has exactly one accepted text. Returns null for
 * any other string.
 * @param {string} text
 * @returns {Uint8Array | null}
 */
export function decodeCanonical(text) {
  const len = text.length;
  if (len % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    const a = sextet(text, i), b = sextet(text, i + 1), c = sextet(text, i + 2), d = sextet(text, i + 3);
    if ((a | b | c | d) < 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  const rest = len - i;
  if (rest === 2) {
    const a = sextet(text, i), b = sextet(text, i + 1);
    if ((a | b) < 0 || (b & 15) !== 0) return null;
    out[o++] = (a << 2) | (b >> 4);
  } else if (rest === 3) {
    const a = sextet(text, i), b = sextet(text, i + 1), c = sextet(text, i + 2);
    if ((a | b | c) < 0 || (c & 3) !== 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
  }
  return out;
}

function sextet(text, i) {
  const c = text.charCodeAt(i);
  return c < 128 ? DECODE[c] : -1;
}

/**
 * Lenient decoding for secret keys (not tokens): either alphabet, padded or not, whitespace
 * around ignored, as the Rust crate's SecretKey::from_base64. Returns null when not base64.
 * @param {string} text
 */
export function decodeKey(text) {
  let t = text.trim();
  while (t.endsWith('=')) t = t.slice(0, -1);
  const urlSafe = /[-_]/.test(t);
  if (urlSafe ? /[+/]/.test(t) : false) return null;
  if (!urlSafe) t = t.replace(/\+/g, '-').replace(/\//g, '_');
  if (t.length % 4 === 1) return null;
  // Unused bits in the last character are ignored for keys ("indifferent" decoding).
  const rest = t.length % 4;
  if (rest !== 0) {
    const last = sextet(t, t.length - 1);
    if (last < 0) return null;
    const mask = rest === 2 ? 0x30 : 0x3c;
    t = t.slice(0, -1) + ALPHABET[last & mask];
  }
  return decodeCanonical(t);
}
