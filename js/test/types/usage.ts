// Compiled by test/types.test.js with tsc --strict: the declarations in index.d.ts describe the API.
import {
  TimedSerializer, generateKey, untrustedHeader, BadToken, TokenExpired, SessionManager, MemoryStore,
  getSession, withSession, honoSession, expressSession, BearerTokens, ironSessionMigration, Float64, type TokenMeta,
} from '../../index.js';

const s = new TimedSerializer([generateKey(), new Uint8Array(32)], { salt: 'x', maxAge: 60, leeway: 5 });
const token: string = s.dumps({ a: 1, b: [1n, new Uint8Array(2), null, 'x'], m: new Map([[1, 2]]) });
const ratio = new Float64(1);
const ratioValue: number = ratio.value;
s.dumps({ ratio, list: [new Float64(-0), 2] });
const { value, meta } = s.loadsWithMeta<{ a: number }>(token);
const n: number = value.a;
const m2: TokenMeta = meta;
const d: Date | null = m2.issuedAt;
s.dumpsAt(1, new Date());
s.loadsAt(token, 1700000000);
untrustedHeader(token).keyId.toUpperCase();
try { s.loads(token); } catch (e) { if (e instanceof TokenExpired) console.log(e.kind); else if (e instanceof BadToken) console.log(e.kind); }

type User = { user_id: string; role: string };
const sessions = new SessionManager<User>(generateKey(), { maxChunks: 3, store: new MemoryStore(), subject: (u) => u.user_id });
async function handler(req: any, res: any) {
  const sess = await sessions.load(req.headers.cookie);
  const u: User | null = sess.get();
  sess.set({ user_id: '1', role: 'r' });
  const out = await sessions.commit(sess, { status: 200 });
  out.setCookie.forEach((l) => res.setHeader('Set-Cookie', l));
  const obj = await getSession<{ user?: User }>(req, res, { manager: sessions });
  obj.user = { user_id: '1', role: 'r' };
  await obj.save();
  await obj.destroy();
  return [u, n, d];
}
export const GET = withSession(sessions, async (_request, session) => Response.json(session.get()));
export const mw = [honoSession(sessions), expressSession(sessions)];
const bearer = new BearerTokens<User>(s, { subject: (u) => u.user_id });
bearer.issue({ user_id: '1', role: 'r' }).then((t) => bearer.verify(t)).then(({ value: v }) => v.role);
ironSessionMigration({ cookieName: 'c', password: 'p'.repeat(32), sunset: new Date() });
void handler;
