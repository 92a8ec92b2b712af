#!/usr/bin/env python3
"""A stand-in for an example service, for testing conformance/contract.py itself.

NOT an implementation of itsclassified: its "tokens" have the v1 header (version, key id,
issued-at) but the rest is random bytes, and what a token holds is kept on the server side
(in this process, or in Redis with REDIS_URL, so that two instances share it). It follows the
example contract (shared/example-contract.md) and the session design's HTTP behaviour (chunks,
renewal, absolute lifetime, session-id revocation, the logout-all cutoff with its margin and
floor, 503 when the store cannot answer) so that every check of the suite passes against it:

    python3 conformance/contract.py --door fake -- python3 conformance/fake_door.py
    python3 conformance/contract.py --door fake --paired -- python3 conformance/fake_door.py

A check that fails here is a bug of the suite (or of this stand-in), not of a door.
Python 3.11 standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_MAX_AGE = 900
LEEWAY = 60
MARGIN = 30
LINE_LIMIT = 4096
MAX_CHUNKS = 3
STORE_TIMEOUT = 0.25


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id(secret: bytes) -> bytes:
    prk = hmac.new(b"itsclassified/v1", secret, hashlib.sha256).digest()
    return hmac.new(prk, b"itsclassified/v1 kid\x01", hashlib.sha256).digest()[:4]


def load_keys() -> list[bytes]:
    path = os.environ.get("ITSCLASSIFIED_KEYS_FILE")
    if path:
        with open(path) as f:
            lines = [line.strip() for line in f]
        texts = [t for t in lines if t and not t.startswith("#")]
    else:
        texts = [t.strip() for t in os.environ.get("ITSCLASSIFIED_KEYS", "").split(",") if t.strip()]
    if not texts:
        raise ValueError("no key")
    keys = []
    for t in texts:
        raw = b64d(t)
        if len(raw) < 32:
            raise ValueError("a key shorter than 32 bytes")
        keys.append(raw)
    return keys


class Unavailable(Exception):
    pass


class Store:
    """Key-value with expiry: a dict, or Redis over RESP with a short timeout."""

    def __init__(self, url: str | None):
        self.data: dict[str, str] = {}
        self.lock = threading.Lock()
        self.addr = None
        if url:
            hostport = url.split("://", 1)[1].split("/", 1)[0]
            host, port = hostport.rsplit(":", 1)
            self.addr = (host, int(port))

    def command(self, *args: str):
        try:
            with socket.create_connection(self.addr, timeout=STORE_TIMEOUT) as s:
                out = f"*{len(args)}\r\n".encode()
                for a in args:
                    b = a.encode()
                    out += f"${len(b)}\r\n".encode() + b + b"\r\n"
                s.sendall(out)
                f = s.makefile("rb")
                line = f.readline()
                if line.startswith(b"$-1"):
                    return None
                if line.startswith(b"$"):
                    n = int(line[1:])
                    return f.read(n + 2)[:-2].decode()
                if line.startswith((b"+", b":")):
                    return line[1:].strip().decode()
                raise Unavailable(f"redis: {line!r}")
        except (OSError, ValueError) as e:
            raise Unavailable(f"redis: {e}")

    def get(self, key: str) -> str | None:
        if self.addr:
            return self.command("GET", "fake:" + key)
        with self.lock:
            return self.data.get(key)

    def set(self, key: str, value: str, ttl: int) -> None:
        if self.addr:
            self.command("SET", "fake:" + key, value, "EX", str(max(1, ttl)))
            return
        with self.lock:
            self.data[key] = value


class Door:
    def __init__(self):
        self.keys = load_keys()
        self.store = Store(os.environ.get("REDIS_URL"))
        self.insecure = os.environ.get("ITSCLASSIFIED_INSECURE_COOKIES") == "1"
        self.name = "session" if self.insecure else "__Host-session"
        self.max_age = int(os.environ.get("ITSCLASSIFIED_SESSION_MAX_AGE", "86400"))
        self.renew_after = int(os.environ.get("ITSCLASSIFIED_SESSION_RENEW_AFTER", "43200"))
        self.lifetime = int(os.environ.get("ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME", "604800"))

    def kids(self) -> list[bytes]:
        return [key_id(k) for k in self.keys]

    def mint(self, content: dict, issued_at: int) -> str:
        pad = len(json.dumps(content)) + 16
        raw = b"\x01" + key_id(self.keys[0]) + issued_at.to_bytes(8, "big") + secrets.token_bytes(24 + pad)
        token = b64e(raw)
        self.store.set("tok:" + hashlib.sha256(token.encode()).hexdigest(), json.dumps(content), 8 * 86400)
        return token

    def open(self, token: str, kind: str) -> tuple[dict, int] | None:
        try:
            raw = b64d(token)
        except ValueError:
            return None
        if len(raw) < 53 or raw[0] != 1 or raw[1:5] not in self.kids():
            return None
        found = self.store.get("tok:" + hashlib.sha256(token.encode()).hexdigest())
        if found is None:
            return None
        content = json.loads(found)
        if content.get("kind") != kind:
            return None
        return content, int.from_bytes(raw[5:13], "big")

    def cutoff(self, user: str) -> int:
        return int(self.store.get("cut:" + user) or 0)


DOOR: Door


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # responses

    def answer(self, status: int, body=None, cookies=(), extra=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in extra:
            self.send_header(k, v)
        for c in cookies:
            self.send_header("Set-Cookie", c)
        if cookies or self.session_touched:
            self.send_header("Cache-Control", "private")
            self.send_header("Vary", "Cookie")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def unavailable(self, e):
        log(f"the store cannot answer: {e}")
        self.answer(503, {"error": "the revocation store cannot answer"}, extra=[("Retry-After", "1")])

    # cookies

    def attrs(self, max_age: int) -> str:
        return f"HttpOnly; SameSite=Lax{'' if DOOR.insecure else '; Secure'}; Path=/; Max-Age={max_age}"

    def removal(self, name: str) -> str:
        return f"{name}=; {self.attrs(0)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

    def carried(self) -> tuple[list[str], list[str]]:
        """The session token candidates and the names of the session cookies sent."""
        pairs = []
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                k, sep, v = part.partition("=")
                if sep:
                    pairs.append((k.strip(" \t"), v.strip(" \t")))
        singles = [v for k, v in pairs if k == DOOR.name]
        chunks = {}
        names = [k for k, _ in pairs if k == DOOR.name]
        for k, v in pairs:
            if k.startswith(DOOR.name + "."):
                idx = k[len(DOOR.name) + 1:]
                if idx.isdigit() and (idx == "0" or not idx.startswith("0")) and int(idx) < 64:
                    names.append(k)
                    chunks.setdefault(int(idx), []).append(v)
        candidates = list(singles)
        if chunks:
            n = len(chunks)
            if sorted(chunks) == list(range(n)) and all(len(v) == 1 for v in chunks.values()) \
                    and 2 <= n <= MAX_CHUNKS:
                candidates.append("".join(chunks[i][0] for i in range(n)))
        return candidates, names

    def write_session(self, token: str, max_age: int, seen: list[str]) -> list[str] | None:
        attrs = self.attrs(max_age)
        if len(f"{DOOR.name}={token}; {attrs}") <= LINE_LIMIT:
            return [f"{DOOR.name}={token}; {attrs}"] + [self.removal(n) for n in seen if n != DOOR.name]
        lines, rest, i = [], token, 0
        while rest:
            room = LINE_LIMIT - len(f"{DOOR.name}.{i}=; {attrs}")
            lines.append(f"{DOOR.name}.{i}={rest[:room]}; {attrs}")
            rest, i = rest[room:], i + 1
        if len(lines) > MAX_CHUNKS:
            log(f"session too large: {len(lines)} chunks > max_chunks {MAX_CHUNKS}")
            return None
        mine = {f"{DOOR.name}.{k}" for k in range(len(lines))}
        return lines + [self.removal(n) for n in seen if n not in mine]

    def load_session(self):
        """(content, issued_at, validated_at) or None; raises Unavailable."""
        self.session_touched = True
        candidates, self.seen = self.carried()
        now = int(time.time())
        for token in candidates[:4]:
            opened = DOOR.open(token, "session")
            if opened is None:
                continue
            content, iat = opened
            if iat > now + LEEWAY or now - iat > DOOR.max_age or now - content["s"] > DOOR.lifetime:
                continue
            if DOOR.store.get("sid:" + content["sid"]) or DOOR.cutoff(content["user"]["user_id"]) >= iat:
                continue
            return content, iat, now
        return None

    def session_cookie(self, content: dict, issued_at: int) -> list[str] | None:
        token = DOOR.mint(dict(content, kind="session"), issued_at)
        max_age = max(0, min(DOOR.max_age, content["s"] + DOOR.lifetime - int(time.time())))
        return self.write_session(token, max_age, self.seen)

    def bearer(self):
        """'none', None (refused) or (content, iat, token); raises Unavailable."""
        auth = self.headers.get("Authorization")
        if auth is None or not auth.lower().startswith("bearer "):
            return "none"
        token = auth[7:].strip()
        opened = DOOR.open(token, "api")
        now = int(time.time())
        if opened is None:
            return None
        content, iat = opened
        if iat > now + LEEWAY or now - iat > API_MAX_AGE:
            return None
        if DOOR.store.get("tid:" + token) or DOOR.cutoff(content["user"]["user_id"]) >= iat:
            return None
        return content, iat, token

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    # routes

    def handle_one(self, method: str):
        self.session_touched = False
        self.seen = []
        try:
            route = getattr(self, f"r_{method}_{self.path.strip('/').replace('-', '_')}", None)
            if route is None:
                self.answer(404 if method in ("GET", "POST", "PUT") else 405)
                return
            route()
        except Unavailable as e:
            self.session_touched = False
            self.unavailable(e)

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_PUT(self):
        self.handle_one("PUT")

    def refuse_bearer(self, error: bool):
        challenge = 'Bearer error="invalid_token"' if error else "Bearer"
        self.answer(401, extra=[("WWW-Authenticate", challenge)])

    def r_POST_login(self):
        user = self.body()
        self.body_user = user
        self.session_touched = True
        _, self.seen = self.carried()
        now = int(time.time())
        iat = max(now, DOOR.cutoff(user["user_id"]) + 1)
        token = DOOR.mint({"kind": "api", "user": user}, iat)
        content = {"user": user, "sid": secrets.token_hex(16), "s": now}
        cookies = self.session_cookie(content, iat)
        if cookies is None:
            self.answer(500)
            return
        self.answer(200, {"token": token}, cookies)

    def r_GET_me(self):
        b = self.bearer()
        if b == "none":
            self.refuse_bearer(False)
        elif b is None:
            self.refuse_bearer(True)
        else:
            content, iat, _ = b
            self.answer(200, {"user": content["user"], "token_age_secs": max(0, int(time.time()) - iat)})

    def r_GET_session(self):
        loaded = self.load_session()
        if loaded is None:
            self.answer(401)
            return
        content, iat, validated = loaded
        cookies = []
        if int(time.time()) - iat >= DOOR.renew_after:
            cookies = self.session_cookie(content, max(validated, iat)) or []
        self.answer(200, content["user"], cookies)

    def r_PUT_session(self):
        role = self.body()["role"]
        loaded = self.load_session()
        if loaded is None:
            self.answer(401)
            return
        content, iat, validated = loaded
        content = dict(content, user=dict(content["user"], role=role))
        cookies = self.session_cookie(content, max(validated, iat))
        if cookies is None:
            self.answer(500)
            return
        self.answer(200, content["user"], cookies)

    def r_POST_logout(self):
        loaded = self.load_session()
        b = self.bearer()
        if loaded is not None:
            DOOR.store.set("sid:" + loaded[0]["sid"], "1", DOOR.max_age + 2 * LEEWAY)
        if isinstance(b, tuple):
            DOOR.store.set("tid:" + b[2], "1", API_MAX_AGE + LEEWAY)
        self.answer(204, cookies=[self.removal(DOOR.name)] + [self.removal(n) for n in self.seen if n != DOOR.name])

    def r_POST_logout_all(self):
        b = self.bearer()
        user = None
        if isinstance(b, tuple):
            user = b[0]["user"]
        else:
            loaded = self.load_session()
            if loaded is not None:
                user = loaded[0]["user"]
        if user is None:
            self.refuse_bearer(False)
            return
        c = int(time.time()) + MARGIN
        DOOR.store.set("cut:" + user["user_id"], str(max(c, DOOR.cutoff(user["user_id"]))),
                       c + DOOR.max_age + LEEWAY - int(time.time()))
        cookies = [self.removal(n) for n in self.seen] if self.session_touched else []
        self.answer(204, cookies=cookies)


def main() -> int:
    global DOOR
    DOOR = Door()
    port = int(os.environ.get("PORT", "3000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def on_hup(_s, _f):
        if not os.environ.get("ITSCLASSIFIED_KEYS_FILE"):
            log("SIGHUP: no key file, nothing to reload")
            return
        try:
            DOOR.keys = load_keys()
            log("SIGHUP: keys reloaded")
        except (OSError, ValueError) as e:
            log(f"SIGHUP: keys not reloaded, the keys in force stay: {e}")

    stop = threading.Event()
    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    log(f"listening on http://127.0.0.1:{port}")
    while not stop.wait(0.2):
        pass
    server.shutdown()
    log("SIGTERM: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
