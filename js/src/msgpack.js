// MessagePack in the canonical form of SPEC.md 3.1, and a strict decoder (3.2-3.4).
//
// Why our own codec rather than @msgpack/msgpack: the spec needs the shortest integer forms for
// bigint too (the library writes every bigint as 64-bit), a depth limit counted per value, a
// framing check that never sizes an allocation from a count the plaintext cannot hold, fatal
// UTF-8 decoding, refusal of every ext type, and the session envelope read with its wire types
// (an "s" written as a float must be refused). Wrapping the library with a validator would be
// as much code as this file, plus a dependency.

export const MAX_DEPTH = 128;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const U64_LIMIT = 1n << 64n;
const I64_MIN = -(1n << 63n);

/**
 * An explicit float 64 (SPEC.md 3.1, "Numbers"). JavaScript has one number type, so a plain
 * integral number is written as an integer (`1` and `1.0` are both `01`); wrapping it says "the
 * float 1.0" (`cb 3f f0 00 00 00 00 00 00`), as a Rust `f64` or a Python `float` would write it.
 * Any number may be wrapped, fractions, -0, the infinities and NaN included; it is always written
 * as float 64. Loading gives plain numbers back (floats are numbers when read).
 */
export class Float64 {
  /** @param {number} value */
  constructor(value) {
    if (typeof value !== 'number') throw new TypeError('Float64 wraps a number');
    /** @type {number} */
    this.value = value;
    Object.freeze(this);
  }
  valueOf() { return this.value; }
  toJSON() { return this.value; }
  toString() { return `Float64(${Object.is(this.value, -0) ? '-0' : this.value})`; }
}

/** Thrown by the encoder for a value nested too deep (mapped to EncodeError TooDeep). */
export class TooDeepSignal extends Error {}
/** Thrown by the decoder for anything that is not one well-framed acceptable value. */
export class PayloadSignal extends Error {}

class Writer {
  constructor() {
    this.buf = new Uint8Array(128);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }
  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(b) { this.ensure(1); this.buf[this.len++] = b; }
  u8u8(a, b) { this.ensure(2); this.buf[this.len++] = a; this.buf[this.len++] = b; }
  u8u16(a, v) { this.ensure(3); this.buf[this.len] = a; this.view.setUint16(this.len + 1, v); this.len += 3; }
  u8u32(a, v) { this.ensure(5); this.buf[this.len] = a; this.view.setUint32(this.len + 1, v); this.len += 5; }
  u8u64(a, v) { this.ensure(9); this.buf[this.len] = a; this.view.setBigUint64(this.len + 1, v); this.len += 9; }
  u8i64(a, v) { this.ensure(9); this.buf[this.len] = a; this.view.setBigInt64(this.len + 1, v); this.len += 9; }
  f64(v) { this.ensure(9); this.buf[this.len] = 0xcb; this.view.setFloat64(this.len + 1, v); this.len += 9; }
  bytes(b) { this.ensure(b.length); this.buf.set(b, this.len); this.len += b.length; }
  result() { return this.buf.slice(0, this.len); }
}

/**
 * Encodes one value in the canonical form. Depth counts the containers around a value: the top
 * level is 0, and no value may sit deeper than 128.
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function encode(value) {
  const w = new Writer();
  write(w, value, 0);
  return w.result();
}

/** Writes `value` at `depth`; exported for the session envelope. */
export function write(w, value, depth) {
  if (depth > MAX_DEPTH) throw new TooDeepSignal();
  switch (typeof value) {
    case 'string': return writeStr(w, value);
    case 'number': return writeNumber(w, value);
    case 'boolean': return w.u8(value ? 0xc3 : 0xc2);
    case 'bigint': return writeBigInt(w, value);
    case 'object': break;
    default: throw new TypeError(`a value of type ${typeof value} cannot be put in a token`);
  }
  if (value === null) return w.u8(0xc0);
  if (value instanceof Uint8Array) return writeBin(w, value);
  if (value instanceof Float64) return writeFloat64(w, value.value);
  if (Array.isArray(value)) {
    header(w, value.length, 0x90, 0xdc, 0xdd);
    for (const v of value) {
      if (v === undefined) throw new TypeError('undefined cannot be put in a token (in an array)');
      write(w, v, depth + 1);
    }
    return;
  }
  if (value instanceof Map) {
    // A Map's keys are distinct to JavaScript (by identity for objects) but not always to the
    // format: two arrays [1], or 1 and 1n, have one encoding. Keys are compared by their
    // canonical bytes, and a repeated one is refused (SPEC.md 3.1).
    header(w, value.size, 0x80, 0xde, 0xdf);
    const seen = new Set();
    for (const [k, v] of value) {
      const start = w.len;
      write(w, k, depth + 1);
      const bytes = byteString(w.buf, start, w.len);
      if (seen.has(bytes)) throw new TypeError('a Map with two keys of the same encoding cannot be put in a token');
      seen.add(bytes);
      write(w, v, depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // Properties whose value is undefined are left out, as JSON.stringify does.
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    header(w, keys.length, 0x80, 0xde, 0xdf);
    for (const k of keys) {
      writeStr(w, k);
      write(w, value[k], depth + 1);
    }
    return;
  }
  const what = value.constructor?.name ?? 'object';
  throw new TypeError(`a ${what} cannot be put in a token: use plain objects, arrays, strings, numbers, Float64, booleans, null, Uint8Array, bigint or Map`);
}

/** The bytes buf[start..end) as a string of char codes 0-255, for comparing keys in a Set. */
function byteString(buf, start, end) {
  let out = '';
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode.apply(null, buf.subarray(i, Math.min(i + 4096, end)));
  }
  return out;
}

function header(w, n, fix, m16, m32) {
  if (n < 16) w.u8(fix | n);
  else if (n < 0x10000) w.u8u16(m16, n);
  else w.u8u32(m32, n);
}

function writeStr(w, s) {
  if (!s.isWellFormed()) throw new TypeError('a string with a lone surrogate cannot be put in a token (it is not UTF-8)');
  const n = s.length;
  // ASCII, the common case, is written in place; other text through TextEncoder.
  if (n < 32) {
    w.ensure(1 + n);
    const start = w.len;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      w.buf[start + 1 + i] = c;
    }
    if (i === n) {
      w.buf[start] = 0xa0 | n;
      w.len += 1 + n;
      return;
    }
  }
  const b = utf8.encode(s);
  const len = b.length;
  if (len < 32) w.u8(0xa0 | len);
  else if (len < 0x100) w.u8u8(0xd9, len);
  else if (len < 0x10000) w.u8u16(0xda, len);
  else w.u8u32(0xdb, len);
  w.bytes(b);
}

function writeBin(w, b) {
  const n = b.length;
  if (n < 0x100) w.u8u8(0xc4, n);
  else if (n < 0x10000) w.u8u16(0xc5, n);
  else w.u8u32(0xc6, n);
  w.bytes(b);
}

function writeNumber(w, n) {
  // SPEC.md 3.1, "Numbers": a safe integer (|n| <= 2^53 - 1) other than -0 is an integer; -0,
  // fractions, the infinities, NaN and integral numbers beyond the safe range are float 64 (such
  // a number no longer says which integer it stands for: integers that big are bigint).
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) return writeSafeInt(w, n);
  writeFloat64(w, n);
}

/** Float 64, with every NaN written as the one quiet NaN 7ff8000000000000 (SPEC.md 3.1, "NaN"). */
function writeFloat64(w, n) {
  // DataView may write any NaN bit pattern (the sign and payload of the NaN it was given), so
  // NaN is written byte by byte.
  if (n !== n) {
    w.ensure(9);
    w.buf.set(CANONICAL_NAN, w.len);
    w.len += 9;
    return;
  }
  w.f64(n);
}
const CANONICAL_NAN = new Uint8Array([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]);

function writeSafeInt(w, n) {
  if (n >= 0) {
    if (n < 128) w.u8(n);
    else if (n < 0x100) w.u8u8(0xcc, n);
    else if (n < 0x10000) w.u8u16(0xcd, n);
    else if (n < 0x100000000) w.u8u32(0xce, n);
    else w.u8u64(0xcf, BigInt(n));
  } else {
    if (n >= -32) w.u8(n & 0xff);
    else if (n >= -128) w.u8u8(0xd0, n & 0xff);
    else if (n >= -32768) w.u8u16(0xd1, n & 0xffff);
    else if (n >= -2147483648) w.u8u32(0xd2, n >>> 0);
    else w.u8i64(0xd3, BigInt(n));
  }
}

function writeBigInt(w, n) {
  if (n >= U64_LIMIT || n < I64_MIN) {
    throw new TypeError('an integer outside the 64-bit range cannot be put in a token');
  }
  if (n >= -2147483648n && n < 0x100000000n) return writeSafeInt(w, Number(n));
  if (n >= 0n) w.u8u64(0xcf, n);
  else w.u8i64(0xd3, n);
}

/**
 * Decodes exactly one value filling all of `bytes`, or throws PayloadSignal. Integers are
 * numbers when safe, else bigint; floats are numbers; str is text (valid UTF-8 only); bin is a
 * Uint8Array; a map is a plain object when all its keys are text, else a Map. ext, c1, trailing
 * bytes, truncation, counts larger than the bytes left, and depth over 128 are refused.
 * @param {Uint8Array} bytes
 */
export function decode(bytes) {
  const r = new Reader(bytes);
  if (r.left() === 0) throw new PayloadSignal();
  const v = r.value(0);
  if (r.left() !== 0) throw new PayloadSignal();
  return v;
}

export class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.b = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.p = 0;
  }
  left() { return this.b.length - this.p; }
  need(n) { if (n > this.b.length - this.p) throw new PayloadSignal(); }
  peek() { this.need(1); return this.b[this.p]; }
  u8() { this.need(1); return this.b[this.p++]; }
  u16() { this.need(2); const v = this.view.getUint16(this.p); this.p += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.p); this.p += 4; return v; }
  take(n) { this.need(n); const s = this.b.subarray(this.p, this.p + n); this.p += n; return s; }

  value(depth) {
    if (depth > MAX_DEPTH) throw new PayloadSignal();
    const m = this.u8();
    if (m <= 0x7f) return m;
    if (m >= 0xe0) return m - 256;
    if (m >= 0xa0 && m <= 0xbf) return this.str(m & 31);
    if (m >= 0x90 && m <= 0x9f) return this.array(m & 15, depth);
    if (m >= 0x80 && m <= 0x8f) return this.map(m & 15, depth);
    const v = this.view;
    switch (m) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.take(this.u8()).slice();
      case 0xc5: return this.take(this.u16()).slice();
      case 0xc6: return this.take(this.u32()).slice();
      case 0xca: { this.need(4); const x = v.getFloat32(this.p); this.p += 4; return x; }
      case 0xcb: { this.need(8); const x = v.getFloat64(this.p); this.p += 8; return x; }
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: { this.need(8); const x = v.getBigUint64(this.p); this.p += 8; return small(x); }
      case 0xd0: { this.need(1); const x = v.getInt8(this.p); this.p += 1; return x; }
      case 0xd1: { this.need(2); const x = v.getInt16(this.p); this.p += 2; return x; }
      case 0xd2: { this.need(4); const x = v.getInt32(this.p); this.p += 4; return x; }
      case 0xd3: { this.need(8); const x = v.getBigInt64(this.p); this.p += 8; return small(x); }
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16(), depth);
      case 0xdd: return this.array(this.u32(), depth);
      case 0xde: return this.map(this.u16(), depth);
      case 0xdf: return this.map(this.u32(), depth);
      // c1 (reserved) and every ext format (c7-c9, d4-d8) are refused.
      default: throw new PayloadSignal();
    }
  }

  str(n) {
    const bytes = this.take(n);
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw new PayloadSignal();
    }
  }

  array(n, depth) {
    if (n > this.left()) throw new PayloadSignal();
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n, depth) {
    if (2 * n > this.left()) throw new PayloadSignal();
    const keys = new Array(n);
    const vals = new Array(n);
    let allText = true;
    for (let i = 0; i < n; i++) {
      keys[i] = this.value(depth + 1);
      vals[i] = this.value(depth + 1);
      if (typeof keys[i] !== 'string') allText = false;
    }
    if (!allText) return new Map(keys.map((k, i) => [k, vals[i]]));
    const out = {};
    for (let i = 0; i < n; i++) setProp(out, keys[i], vals[i]);
    return out;
  }
}

/** Sets a property, "__proto__" included, as data (never the prototype). Later entries win. */
export function setProp(obj, k, v) {
  if (k === '__proto__') {
    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else {
    obj[k] = v;
  }
}

function small(x) {
  return x >= -9007199254740991n && x <= 9007199254740991n ? Number(x) : x;
}

// ---- The session envelope (SPEC.md 10.1) ----------------------------------------------------

/**
 * The canonical envelope `83 a1 76 <v> a1 69 c4 10 <id> a1 73 <uint s>`. The value sits at
 * depth 1 (inside the envelope map).
 * @param {unknown} value @param {Uint8Array} id 16 bytes @param {bigint} start
 */
export function encodeEnvelope(value, id, start) {
  const w = new Writer();
  w.u8(0x83);
  w.u8u8(0xa1, 0x76);
  write(w, value, 1);
  w.u8u8(0xa1, 0x69);
  w.u8u8(0xc4, 16);
  w.bytes(id);
  w.u8u8(0xa1, 0x73);
  writeBigInt(w, start);
  return w.result();
}

const KEY_V = 0x76, KEY_I = 0x69, KEY_S = 0x73;

/**
 * Reads an envelope, or throws PayloadSignal: a map (any map format) with "v", "i" (bin of
 * exactly 16 bytes, any bin format) and "s" (an integer >= 0, any integer format) each exactly
 * once, in any order; other text keys are skipped, non-text keys are ignored.
 * @param {Uint8Array} bytes
 * @returns {{ value: unknown, id: Uint8Array, start: bigint }}
 */
export function decodeEnvelope(bytes) {
  const r = new Reader(bytes);
  const m = r.u8();
  let n;
  if (m >= 0x80 && m <= 0x8f) n = m & 15;
  else if (m === 0xde) n = r.u16();
  else if (m === 0xdf) n = r.u32();
  else throw new PayloadSignal();
  if (2 * n > r.left()) throw new PayloadSignal();
  let hasV = false, value, id, start;
  for (let k = 0; k < n; k++) {
    const key = r.value(1);
    if (key === 'v' || key === 'i' || key === 's') {
      const which = key.charCodeAt(0);
      if (which === KEY_V) {
        if (hasV) throw new PayloadSignal();
        hasV = true;
        value = r.value(1);
      } else if (which === KEY_I) {
        if (id !== undefined) throw new PayloadSignal();
        const mk = r.peek();
        if (mk !== 0xc4 && mk !== 0xc5 && mk !== 0xc6) throw new PayloadSignal();
        id = r.value(1);
        if (id.length !== 16) throw new PayloadSignal();
      } else {
        if (start !== undefined) throw new PayloadSignal();
        const mk = r.peek();
        const integer = mk <= 0x7f || (mk >= 0xcc && mk <= 0xd3);
        if (!integer) throw new PayloadSignal();
        const s = r.value(1);
        if (s < 0) throw new PayloadSignal();
        start = BigInt(s);
      }
    } else {
      r.value(1); // another key: skipped (forward compatibility), framing and depth still checked
    }
  }
  if (r.left() !== 0 || !hasV || id === undefined || start === undefined) throw new PayloadSignal();
  return { value, id, start };
}
