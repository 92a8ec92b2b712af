// The revocation stores: the Redis layout of SPEC.md 10.6 against a real redis-server, and the
// in-memory store with the same behaviour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { MemoryStore, RedisStore, StoreUnavailable, subjectHash } from '../index.js';
import { startRedis } from './redis_server.js';

test('the subject hash of "123" is the one SPEC.md 10.6 gives', () => {
  assert.equal(subjectHash('123'), 'jH0NPL0XzrSDuvbPxqPkTc4do2nWtgOkLTcMz0KcsAg');
});

let redis, client;
before(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
  client.on('error', () => {});
  await client.connect();
});
after(async () => {
  await client?.destroy?.();
  await redis?.stop();
});

const now = () => Math.floor(Date.now() / 1000);

test('a revoked token id is written SET t:<id> 1 PX <ms> with its expiry, and checked', async () => {
  const store = new RedisStore(client, { prefix: 'P:' });
  const id = 'oKGio6SlpqeoqaqrrK2urw';
  await store.revokeToken(id, now() + 100);
  assert.equal(await client.get(`P:t:${id}`), '1');
  const pttl = await client.pTTL(`P:t:${id}`);
  assert.ok(pttl > 99_000 && pttl <= 101_000, String(pttl));
  assert.equal(await store.isTokenRevoked(id, null, now()), true);
  assert.equal(await store.isTokenRevoked('AAAAAAAAAAAAAAAAAAAAAA', null, now()), false);
  await store.revokeToken('BBBBBBBBBBBBBBBBBBBBBB', now() - 5);
  assert.equal(await client.exists('P:t:BBBBBBBBBBBBBBBBBBBBBB'), 0, 'a moment that has passed writes nothing');
});

test('a session id revocation is kept to the end of R and its expiry is never shortened', async () => {
  const store = new RedisStore(client, { prefix: 'P:' });
  const sid = 'EBESExQVFhcYGRobHB0eHw';
  await store.revokeSession(sid, now() + 1000);
  await store.revokeSession(sid, now() + 10);
  assert.ok((await client.pTTL(`P:i:${sid}`)) > 990_000);
  await store.revokeSession(sid, now() + 5000);
  assert.ok((await client.pTTL(`P:i:${sid}`)) > 4_990_000);
  assert.equal(await store.isSessionRevoked(sid, null, now()), true);
  assert.equal(await store.isSessionRevoked(sid, 'someone', now()), true);
});

test('the subject cutoff: the later wins, the expiry never shrinks, tokens issued at or before C are refused', async () => {
  const store = new RedisStore(client, { prefix: 'P:', retain: 1000 });
  const t = now();
  await store.revokeSubjectAt('123', t + 30);
  const key = 'P:s:jH0NPL0XzrSDuvbPxqPkTc4do2nWtgOkLTcMz0KcsAg';
  assert.equal(await client.get(key), String(t + 30));
  await store.revokeSubjectAt('123', t + 10, 5000);
  assert.equal(await client.get(key), String(t + 30), 'an earlier cutoff does not move it back');
  assert.ok((await client.pTTL(key)) > 5_000_000, 'but its longer retention is kept');
  assert.equal(await store.cutoff('123'), BigInt(t + 30));
  assert.equal(await store.isTokenRevoked('CCCCCCCCCCCCCCCCCCCCCC', '123', t + 30), true);
  assert.equal(await store.isTokenRevoked('CCCCCCCCCCCCCCCCCCCCCC', '123', t + 31), false);
  assert.equal(await store.isSessionRevoked('CCCCCCCCCCCCCCCCCCCCCC', '123', t), true);
  assert.equal(await store.isSessionRevoked('CCCCCCCCCCCCCCCCCCCCCC', 'other', t), false);
  assert.equal(await store.cutoff('nobody'), null);
});

test('a cutoff that is not a decimal integer makes the store Unavailable, never Active', async () => {
  await client.set(`Q:s:${subjectHash('x')}`, 'not-a-number');
  const store = new RedisStore(client, { prefix: 'Q:' });
  await assert.rejects(store.isTokenRevoked('CCCCCCCCCCCCCCCCCCCCCC', 'x', 1), StoreUnavailable);
  await client.set(`Q:s:${subjectHash('y')}`, '18446744073709551616');
  await assert.rejects(store.cutoff('y'), StoreUnavailable);
});

test('a stalled Redis: Unavailable within the timeout, then at once, and back after it answers', async () => {
  const r = await startRedis();
  const c = createClient({ url: r.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
  c.on('error', () => {});
  await c.connect();
  try {
    const store = new RedisStore(c, { timeoutMs: 200 });
    assert.equal(await store.isTokenRevoked('DDDDDDDDDDDDDDDDDDDDDD', null, 1), false);
    r.proc.kill('SIGSTOP');
    let t0 = performance.now();
    await assert.rejects(store.isTokenRevoked('DDDDDDDDDDDDDDDDDDDDDD', null, 1), StoreUnavailable);
    const first = performance.now() - t0;
    assert.ok(first >= 150 && first < 1000, `first refusal after ${first} ms`);
    t0 = performance.now();
    await assert.rejects(store.revokeToken('DDDDDDDDDDDDDDDDDDDDDD', now() + 100), StoreUnavailable);
    assert.ok(performance.now() - t0 < 50, 'after a timeout, refused at once');
    r.proc.kill('SIGCONT');
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      await new Promise((res) => setTimeout(res, 50));
      ok = await store.isTokenRevoked('DDDDDDDDDDDDDDDDDDDDDD', null, 1).then(() => true, () => false);
    }
    assert.ok(ok, 'answers again within 2 s of SIGCONT');
  } finally {
    await c.destroy();
    await r.stop();
  }
});

test('a dead Redis: Unavailable, not Active', async () => {
  const r = await startRedis();
  const c = createClient({ url: r.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
  c.on('error', () => {});
  await c.connect();
  try {
    const store = new RedisStore(c);
    await r.stop();
    await assert.rejects(store.isSessionRevoked('DDDDDDDDDDDDDDDDDDDDDD', 'u', 1), StoreUnavailable);
    await assert.rejects(store.cutoff('u'), StoreUnavailable);
  } finally {
    await c.destroy();
  }
});

test('the memory store follows the same rules', async () => {
  let ms = 1_700_000_000_000;
  const store = new MemoryStore({ retain: 100, clock: () => ms });
  const t = 1_700_000_000;
  await store.revokeToken('AAAAAAAAAAAAAAAAAAAAAA', t + 10);
  assert.equal(await store.isTokenRevoked('AAAAAAAAAAAAAAAAAAAAAA', null, t), true);
  ms += 11_000;
  assert.equal(await store.isTokenRevoked('AAAAAAAAAAAAAAAAAAAAAA', null, t), false, 'expired at the end of its second');
  const c = await store.revokeSubject('u');
  assert.equal(c, BigInt(t + 11 + 30));
  await store.revokeSubjectAt('u', t, 10);
  assert.equal(await store.cutoff('u'), c, 'the later cutoff wins');
  assert.equal(await store.isSessionRevoked('X', 'u', c), true);
  assert.equal(await store.isSessionRevoked('X', 'u', c + 1n), false);
  await store.revokeSession('S', t + 100);
  await store.revokeSession('S', t + 20);
  ms += 50_000;
  assert.equal(await store.isSessionRevoked('S', null, 0), true, 'a session revocation is never shortened');
});
