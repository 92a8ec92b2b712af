// dumps/loads against iron-session's sealData/unsealData on the seed session, interleaved:
// each round times a batch of every operation in turn, and the table gives the medians over the
// rounds, so that a slow moment of the machine hits all four alike.
//
//     node bench.mjs [rounds=15] [batch=2000]
import { sealData, unsealData } from 'iron-session';
import { TimedSerializer, generateKey } from './index.js';

const rounds = Number(process.argv[2] ?? 15);
const batch = Number(process.argv[3] ?? 2000);
const seed = { user_id: '123', role: 'admin' };
const password = generateKey() + generateKey(); // iron-session wants >= 32 characters
const s = new TimedSerializer(generateKey(), { salt: 'session', maxAge: 3600 });

const token = s.dumps(seed);
const seal = await sealData(seed, { password, ttl: 3600 });

const ops = {
  'itsclassified dumps': async () => { for (let i = 0; i < batch; i++) s.dumps(seed); },
  'itsclassified loads': async () => { for (let i = 0; i < batch; i++) s.loads(token); },
  'iron-session sealData': async () => { for (let i = 0; i < batch; i++) await sealData(seed, { password, ttl: 3600 }); },
  'iron-session unsealData': async () => { for (let i = 0; i < batch; i++) await unsealData(seal, { password, ttl: 3600 }); },
};
const times = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
for (const fn of Object.values(ops)) await fn(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(ops)) {
    const t0 = performance.now();
    await fn();
    times[name].push(((performance.now() - t0) * 1000) / batch); // microseconds per operation
  }
}
const median = (a) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]; };
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));

console.log(`Node ${process.version}, ${rounds} interleaved rounds of ${batch} operations, seed session ${JSON.stringify(seed)}`);
console.log(`token ${token.length} characters, iron-session seal ${seal.length} characters\n`);
console.log('| operation | itsclassified (µs) | iron-session (µs) | speed-up |');
console.log('|---|---:|---:|---:|');
const row = (what, ours, theirs) =>
  console.log(`| ${what} | ${m[ours].toFixed(2)} | ${m[theirs].toFixed(2)} | ${(m[theirs] / m[ours]).toFixed(1)}x |`);
row('seal (dumps / sealData)', 'itsclassified dumps', 'iron-session sealData');
row('unseal (loads / unsealData)', 'itsclassified loads', 'iron-session unsealData');
