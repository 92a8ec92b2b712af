// Migration from iron-session: real seals made by iron-session's sealData.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sealData } from 'iron-session';
import { SessionManager, ironSessionMigration, generateKey } from '../index.js';

const password = 'a-password-of-at-least-32-characters!!';
const key = generateKey();
const future = new Date(Date.now() + 86400_000);

test('an iron-session cookie becomes an itsclassified session, and the old cookie is removed', async () => {
  const migrateFrom = await ironSessionMigration({ cookieName: 'myapp', password, sunset: future });
  const m = new SessionManager(key, { migrateFrom });
  const seal = await sealData({ user: { id: '7' } }, { password });
  const s = await m.load(`other=1; myapp=${encodeURIComponent(seal)}`);
  assert.equal(s.migrated, true);
  assert.deepEqual(s.get(), { user: { id: '7' } });
  const out = await m.commit(s);
  assert.equal(out.setCookie.length, 2);
  assert.match(out.setCookie[0], /^__Host-session=A/);
  assert.match(out.setCookie[1], /^myapp=; .*Max-Age=0/);
  const again = await m.load(out.setCookie[0].split(';')[0]);
  assert.deepEqual(again.get(), { user: { id: '7' } });
  assert.equal(again.migrated, false);
});

test('a seal under another password, a tampered seal or junk gives an empty session', async () => {
  const migrateFrom = await ironSessionMigration({ cookieName: 'myapp', password, sunset: future });
  const m = new SessionManager(key, { migrateFrom });
  const other = await sealData({ a: 1 }, { password: 'another-password-of-32-characters-long' });
  const good = await sealData({ a: 1 }, { password });
  for (const value of [other, good.replace('*', '*x'), 'Fe26.2*junk', 'x'.repeat(10000)]) {
    const s = await m.load(`myapp=${value}`);
    assert.equal(s.get(), null);
    assert.deepEqual((await m.commit(s)).setCookie, []);
  }
});

test('after the sunset date iron-session cookies are not read', async () => {
  const migrateFrom = await ironSessionMigration({ cookieName: 'myapp', password, sunset: new Date(Date.now() - 1000) });
  const m = new SessionManager(key, { migrateFrom });
  const s = await m.load(`myapp=${await sealData({ a: 1 }, { password })}`);
  assert.equal(s.get(), null);
});

test('an itsclassified session wins over an iron-session cookie', async () => {
  const migrateFrom = await ironSessionMigration({ cookieName: 'myapp', password, sunset: future });
  const m = new SessionManager(key, { migrateFrom });
  const first = await m.load(null);
  first.set('new');
  const cookie = (await m.commit(first)).setCookie[0].split(';')[0];
  const s = await m.load(`${cookie}; myapp=${await sealData({ a: 1 }, { password })}`);
  assert.equal(s.get(), 'new');
});
