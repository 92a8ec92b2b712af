// Test helpers: vector files (read losslessly), hex, JSON readers and payload_json matching.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export { hex, toHex, parseJson, parseJsonLossless, jsonMismatch, plainNumbers } from './json.js';
import { parseJsonLossless } from './json.js';

/** A vector file, read losslessly (SPEC.md section 8): floats as Float64, integers exact, members in order. */
export function loadVectors(name) {
  return parseJsonLossless(readFileSync(`${root}tests/vectors/${name}`, 'utf8'));
}
