// Test helpers: vector files, hex, and a JSON reader that keeps big integers exact.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export { hex, toHex, parseJson } from './json.js';
import { parseJson } from './json.js';

export function loadVectors(name) {
  return parseJson(readFileSync(`${root}tests/vectors/${name}`, 'utf8'));
}
