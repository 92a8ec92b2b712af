// Hex, JSON readers that keep big integers exact, and the payload_json matching rules of SPEC.md
// section 8; no node: imports (also bundled for workerd).
import { Float64 } from '../index.js';

export function hex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** JSON.parse, except that integers outside the safe range become bigint (as our decoder gives). */
export function parseJson(text) {
  return readJson(text, false);
}

/**
 * The lossless reader SPEC.md section 8 asks for the vector files: integers exact (numbers when
 * safe, else bigint, as the decoder delivers them); a number written with a fraction or an
 * exponent is a float 64, read as a `Float64` (so `1.0` stays the float 1.0 and `-0.0` keeps its
 * sign); object members in the order of the text: a plain object when JavaScript keeps that
 * order, a Map of text keys when a member name is an array index (which a plain object would
 * move to the front). A member name given twice is an error (the vector files never repeat one).
 */
export function parseJsonLossless(text) {
  return readJson(text, true);
}

const ARRAY_INDEX = /^(0|[1-9][0-9]{0,9})$/;

function readJson(text, lossless) {
  let i = 0;
  const ws = () => { while (' \t\n\r'.includes(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const entries = []; ws();
      if (text[i] !== '}') {
        for (;;) {
          ws(); const k = value(); ws(); i++; // ':'
          entries.push([k, value()]);
          ws(); if (text[i++] === '}') break;
        }
      } else i++;
      if (lossless) {
        const names = new Set(entries.map(([k]) => k));
        if (names.size !== entries.length) throw new Error(`a member name is repeated in the object before ${i}`);
        if (entries.some(([k]) => ARRAY_INDEX.test(k) && Number(k) < 2 ** 32 - 1)) return new Map(entries);
      }
      const o = {};
      for (const [k, v] of entries) {
        if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        else o[k] = v;
      }
      return o;
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) { a.push(value()); ws(); if (text[i++] === ']') return a; }
    }
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)); i = j + 1; return s;
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m) {
      i += m[0].length;
      if (m[1] === undefined && m[2] === undefined) {
        const b = BigInt(m[0]);
        return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
      }
      return lossless ? new Float64(Number(m[0])) : Number(m[0]);
    }
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(lit, i)) { i += lit.length; return v; }
    }
    throw new Error(`bad JSON at ${i}`);
  };
  return value();
}


/**
 * Why a loaded payload does not match a lossless payload_json (SPEC.md section 8, "as any
 * value"), or null when it does. A JSON integer matches that integer (a number when safe, else a
 * bigint); a JSON float matches a number of that value, -0 and 0 told apart (the decoder delivers
 * floats 32 and 64 as numbers); an object matches a map with text keys and the same entries in
 * the same order (a plain object in its property order, or a Map). JavaScript's `===` is not
 * used for numbers: it has 1.0 === 1 and -0 === 0.
 */
export function jsonMismatch(value, json, path = '$') {
  const show = (x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Float64 ? String(x) : Object.is(x, -0) ? '-0' : typeof x === 'object' && x !== null ? (x.constructor?.name ?? 'object') : JSON.stringify(x));
  const no = () => `${path}: got ${show(value)}, want ${show(json)}`;
  if (json === null || typeof json === 'boolean' || typeof json === 'string') return value === json ? null : no();
  if (typeof json === 'number' || typeof json === 'bigint') return typeof value === typeof json && value === json ? null : no();
  if (json instanceof Float64) return typeof value === 'number' && Object.is(value, json.value) ? null : no();
  if (Array.isArray(json)) {
    if (!Array.isArray(value) || value.length !== json.length) return no();
    for (let k = 0; k < json.length; k++) {
      const m = jsonMismatch(value[k], json[k], `${path}[${k}]`);
      if (m) return m;
    }
    return null;
  }
  const want = json instanceof Map ? [...json] : Object.entries(json);
  let got;
  if (value instanceof Map) got = [...value];
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) got = Object.entries(value);
  else return no();
  if (got.length !== want.length) return `${path}: ${got.length} entries, want ${want.length}`;
  for (let k = 0; k < want.length; k++) {
    if (got[k][0] !== want[k][0]) return `${path}: entry ${k} has key ${show(got[k][0])}, want ${show(want[k][0])}`;
    const m = jsonMismatch(got[k][1], want[k][1], `${path}.${want[k][0]}`);
    if (m) return m;
  }
  return null;
}

/** The value with every Float64 unwrapped: what a one-number-type program holds as plain numbers. */
export function plainNumbers(json) {
  if (json instanceof Float64) return json.value;
  if (Array.isArray(json)) return json.map(plainNumbers);
  if (json instanceof Map) return new Map([...json].map(([k, v]) => [k, plainNumbers(v)]));
  if (json !== null && typeof json === 'object') {
    const o = {};
    for (const [k, v] of Object.entries(json)) Object.defineProperty(o, k, { value: plainNumbers(v), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return json;
}
