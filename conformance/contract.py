#!/usr/bin/env python3
"""Black-box HTTP conformance suite for the example services (shared/example-contract.md).

Every door into itsclassified (axum, actix-web, FastAPI, Flask, JavaScript) ships one example
service that follows the example contract. This suite starts such a service itself and checks
the contract over plain HTTP, alone or as a pair of instances sharing one Redis. Python 3.11
standard library only: it runs with the system ``python3``, no virtual environment.

Usage (from the repository root, which is the started command's working directory)::

    python3 conformance/contract.py --door axum -- target/debug/examples/axum_api
    CONFORMANCE_CMD='target/debug/examples/axum_api' python3 conformance/contract.py --door axum
    # two instances through one Redis (the peer defaults to the same command):
    python3 conformance/contract.py --door axum --paired -- target/debug/examples/axum_api
    python3 conformance/contract.py --door axum --paired --peer-door actix \\
        --peer-cmd 'target/debug/examples/actix_api' -- target/debug/examples/axum_api
    # without Redis (revocations in the process; the store-outage checks are skipped):
    python3 conformance/contract.py --door axum --store memory -- target/debug/examples/axum_api
    python3 conformance/contract.py --list            # the checks, one a line
    python3 conformance/contract.py -k logout -- ...  # only checks whose name contains "logout"

``scripts/conformance.sh`` builds the doors and runs this alone and paired, as CI does.
``conformance/fake_door.py`` is a stand-in service that passes every check: run the suite on it
after changing a check (``-- python3 conformance/fake_door.py``); the script does so first.

What the suite does:

- It starts the command (and each instance it needs) with ``PORT`` set to a free loopback
  port, ``ITSCLASSIFIED_KEYS`` set to keys it knows (so it can tell tokens' key ids apart),
  ``ITSCLASSIFIED_INSECURE_COOKIES=1`` for every check but the ``Secure`` one (http.client
  speaks plain HTTP; the ``Secure`` cookie is only read from ``Set-Cookie``), and ``REDIS_URL``
  pointing at a ``redis-server --save "" --appendonly no`` it starts on a free loopback port.
  Other ``ITSCLASSIFIED_*``, ``REDIS_URL`` and ``PORT`` variables of its own environment are not
  passed on. Each process runs in a process group of its own, with its output in a temporary
  directory, and the group is killed at the end (also on Ctrl-C). Signals (SIGHUP, SIGTERM) go
  to the started process itself: the command must be the server or ``exec`` it (``cargo run``
  does).
- It keeps its own cookie jar: every cookie a response sets is sent back (chunks ``NAME.0``,
  ``NAME.1``, ... included), a ``Max-Age=0`` (or past ``Expires``) removes one. The jar ignores
  ``Max-Age`` otherwise, so that the server's own refusal of an old cookie is what is tested.
- One line per check: ``PASS``, ``FAIL`` (with the reason, then the tail of the logs of the
  instances involved) or ``SKIP`` (with the reason). The exit status is 1 when a check failed.
  Every wait is bounded: the start (``--start-timeout``, default 60 s), each request (5 s),
  each poll loop (a few seconds).

Where the contract leaves freedom the suite does too: the order and the case of cookie
attribute names, a removal by ``Max-Age=0`` or by a past ``Expires``, where chunks are split,
the text of error bodies. Checks marked ``[design §5 floor]`` follow the session design
(design-sessions.md §5) beyond the contract's table.

With ``CI=true`` a missing ``redis-server`` is a failure; otherwise the checks that need Redis
are skipped with the reason.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone

REQUEST_TIMEOUT = 5.0
LOG_TAIL_LINES = 30
LINE_LIMIT = 4096  # bytes of one Set-Cookie line (the header value)
MAX_CHUNKS = 3

# ---------------------------------------------------------------------------------------------
# Keys and tokens (SPEC.md §1.2, §2): enough to read a token's key id and issued-at.


def known_key(label: str) -> bytes:
    """A 32-byte secret the suite knows, derived from a label (the same every run)."""
    return hashlib.sha256(b"itsclassified conformance key " + label.encode()).digest()


def key_text(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).rstrip(b"=").decode()


def key_id(secret: bytes) -> int:
    prk = hmac.new(b"itsclassified/v1", secret, hashlib.sha256).digest()
    okm = hmac.new(prk, b"itsclassified/v1 kid\x01", hashlib.sha256).digest()
    return int.from_bytes(okm[:4], "big")


def token_raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def token_key_id(token: str) -> int:
    raw = token_raw(token)
    if len(raw) < 53 or raw[0] != 1:
        raise CheckFailed(f"not a v1 token: {token[:24]}...")
    return int.from_bytes(raw[1:5], "big")


KEY_A = known_key("A")
KEY_B = known_key("B")
KEY_C = known_key("C")
KEY_FOREIGN = known_key("foreign")
# SPEC.md §8's worked vector: the key id computation above is right.
assert key_id(bytes(range(32))) == 0x1CD6B86B

# ---------------------------------------------------------------------------------------------
# Outcomes


class CheckFailed(Exception):
    pass


class Skipped(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------------------------------------
# Cookies


class SetCookie:
    """One Set-Cookie line: name, value and attributes (names lower-cased)."""

    def __init__(self, line: str):
        self.line = line
        parts = line.split(";")
        name, sep, value = parts[0].partition("=")
        if not sep:
            raise CheckFailed(f"Set-Cookie without name=value: {line[:80]!r}")
        self.name = name.strip(" \t")
        self.value = value.strip(" \t")
        self.attrs: dict[str, str | None] = {}
        for part in parts[1:]:
            key, sep, val = part.partition("=")
            key = key.strip(" \t").lower()
            if key:
                self.attrs[key] = val.strip(" \t") if sep else None

    def has(self, attr: str) -> bool:
        return attr.lower() in self.attrs

    def get(self, attr: str) -> str | None:
        return self.attrs.get(attr.lower())

    def max_age(self) -> int | None:
        value = self.get("max-age")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise CheckFailed(f"{self.name}: Max-Age is not an integer: {value!r}")

    def is_removal(self) -> bool:
        age = self.max_age()
        if age is not None:
            return age <= 0
        expires = self.get("expires")
        if expires:
            try:
                when = email.utils.parsedate_to_datetime(expires)
            except (TypeError, ValueError):
                return False
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return when <= datetime.now(timezone.utc)
        return False

    def __repr__(self) -> str:
        shown = self.value if len(self.value) < 20 else self.value[:16] + "..."
        return f"{self.name}={shown} ({len(self.line)} bytes)"


class Jar:
    """Cookies by name, in the order they were set. Not expired by time (see the docstring)."""

    def __init__(self, cookies: dict[str, str] | None = None):
        self.cookies: dict[str, str] = dict(cookies or {})

    def copy(self) -> "Jar":
        return Jar(self.cookies)

    def update(self, set_cookies: list[SetCookie], keep_valued: bool = False) -> None:
        """Applies Set-Cookie lines. `keep_valued`: a line with a value is kept even when its
        Max-Age is 0 (a session renewed at the end of its absolute lifetime gets Max-Age=0; a
        browser drops it, but the server's own refusal is what a check wants to see)."""
        for c in set_cookies:
            if c.is_removal() and not (keep_valued and c.value):
                self.cookies.pop(c.name, None)
            else:
                self.cookies[c.name] = c.value

    def header(self) -> str | None:
        if not self.cookies:
            return None
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def names(self) -> list[str]:
        return list(self.cookies)


def chunk_names(name: str, names) -> list[str]:
    pattern = re.compile(re.escape(name) + r"\.(0|[1-9][0-9]*)$")
    return sorted((n for n in names if pattern.match(n)), key=lambda n: int(n.rsplit(".", 1)[1]))


def session_token(jar: Jar, name: str) -> str:
    """The session token the jar holds: the single cookie, or the chunks joined in order."""
    if name in jar.cookies:
        return jar.cookies[name]
    chunks = chunk_names(name, jar.names())
    expect(chunks, f"no {name} cookie in the jar (jar: {jar.names()})")
    return "".join(jar.cookies[c] for c in chunks)


# ---------------------------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, elapsed: float):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self.set_cookies = [SetCookie(v) for k, v in headers if k.lower() == "set-cookie"]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise CheckFailed(f"body is not JSON: {self.body[:200]!r}")

    def cookie(self, name: str) -> SetCookie | None:
        for c in self.set_cookies:
            if c.name == name:
                return c
        return None

    def describe(self) -> str:
        cookies = f", Set-Cookie {self.set_cookies}" if self.set_cookies else ""
        body = f", body {self.body[:120]!r}" if self.body else ""
        return f"{self.status}{cookies}{body}"


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A started process in a group of its own, its output in a log file."""

    def __init__(self, suite: "Suite", name: str, cmd: list[str], env: dict[str, str], cwd: str):
        self.name = name
        directory = suite.tmp
        self.cmd = cmd
        self.log_path = os.path.join(directory, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.mark = 0
        suite.track(self)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def set_mark(self) -> None:
        try:
            self.mark = os.path.getsize(self.log_path)
        except OSError:
            self.mark = 0

    def tail(self, since_mark: bool = True) -> list[str]:
        try:
            with open(self.log_path, "rb") as f:
                if since_mark:
                    f.seek(self.mark)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return text.splitlines()[-LOG_TAIL_LINES:]


class Redis(Process):
    def __init__(self, suite: "Suite", name: str):
        self.port = free_port()
        directory = suite.tmp
        super().__init__(
            suite,
            name,
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", directory],
            dict(os.environ),
            directory,
        )
        deadline = time.monotonic() + 5
        while not self.ping():
            if not self.alive():
                raise CheckFailed(f"redis-server exited at start: {self.tail(False)[-3:]}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"redis-server not answering on {self.port} within 5 s")
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class Server(Process):
    """One instance of an example service, on its own port."""

    def __init__(self, suite: "Suite", name: str, cmd: list[str], env: dict[str, str]):
        self.port = int(env["PORT"])
        self.env = env
        super().__init__(suite, name, cmd, env, suite.cwd)
        deadline = time.monotonic() + suite.start_timeout
        while not port_open(self.port):
            if not self.alive():
                raise CheckFailed(f"{name} exited before listening (status {self.proc.returncode})")
            if time.monotonic() > deadline:
                raise CheckFailed(f"{name} not listening on {self.port} within {suite.start_timeout} s")
            time.sleep(0.05)
        self.cookie_name = "session" if env.get("ITSCLASSIFIED_INSECURE_COOKIES") == "1" else "__Host-session"

    def request(self, method: str, path: str, *, body=None, bearer: str | None = None,
                authorization: str | None = None, jar: Jar | None = None, keep: bool = True,
                keep_valued: bool = False, timeout: float = REQUEST_TIMEOUT) -> Response:
        """One request on a new connection. `jar`: its cookies are sent, and (with `keep`) the
        response's Set-Cookie lines applied to it."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        if authorization is not None:
            headers["Authorization"] = authorization
        if jar is not None and jar.header():
            headers["Cookie"] = jar.header()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        start = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            response = Response(r.status, r.getheaders(), payload, time.monotonic() - start)
        except (OSError, http.client.HTTPException) as e:
            alive = "running" if self.alive() else f"exited with status {self.proc.returncode}"
            raise CheckFailed(f"{method} {path} on {self.name}: {type(e).__name__}: {e} ({self.name} {alive})")
        finally:
            conn.close()
        if jar is not None and keep:
            jar.update(response.set_cookies, keep_valued)
        return response

    # The routes of the contract, with the answers every check relies on.

    def login(self, user_id: str, role: str = "member") -> tuple[str, Jar]:
        jar = Jar()
        r = self.request("POST", "/login", body={"user_id": user_id, "role": role}, jar=jar)
        expect(r.status == 200, f"POST /login on {self.name}: expected 200, got {r.describe()}")
        token = r.json().get("token") if isinstance(r.json(), dict) else None
        expect(isinstance(token, str) and token, f"POST /login: no token in {r.body[:200]!r}")
        expect(jar.cookies, f"POST /login on {self.name} set no cookie")
        return token, jar

    def expect_me(self, token: str, user_id: str, what: str = "the token") -> dict:
        r = self.request("GET", "/me", bearer=token)
        expect(r.status == 200, f"GET /me on {self.name} with {what}: expected 200, got {r.describe()}")
        body = r.json()
        expect(isinstance(body, dict) and isinstance(body.get("user"), dict)
               and body["user"].get("user_id") == user_id,
               f"GET /me on {self.name}: expected user {user_id!r}, got {body!r}")
        return body

    def expect_me_refused(self, token: str, what: str = "the token") -> None:
        r = self.request("GET", "/me", bearer=token)
        expect(r.status == 401, f"GET /me on {self.name} with {what}: expected 401, got {r.describe()}")
        expect_challenge(r, "invalid_token", f"GET /me on {self.name} with {what}")

    def expect_session(self, jar: Jar, user_id: str, role: str | None = None,
                       what: str = "the cookie") -> Response:
        r = self.request("GET", "/session", jar=jar)
        expect(r.status == 200, f"GET /session on {self.name} with {what}: expected 200, got {r.describe()}")
        body = r.json()
        expect(isinstance(body, dict) and body.get("user_id") == user_id,
               f"GET /session on {self.name} with {what}: expected user {user_id!r}, got {body!r}")
        if role is not None:
            got = body.get("role")
            expect(got == role, f"GET /session on {self.name} with {what}: expected role "
                   f"{short(role)}, got {short(got)}")
        return r

    def expect_session_refused(self, jar: Jar, what: str = "the cookie") -> None:
        r = self.request("GET", "/session", jar=jar, keep=False)
        expect(r.status == 401, f"GET /session on {self.name} with {what}: expected 401, got {r.describe()}")


def short(value) -> str:
    if isinstance(value, str) and len(value) > 40:
        return f"<{len(value)} chars {value[:12]!r}...>"
    return repr(value)


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme, params


def expect_challenge(r: Response, error: str | None, what: str) -> None:
    """RFC 6750 §3: a Bearer challenge; `error` the expected error code, None for none."""
    values = r.header_all("WWW-Authenticate")
    expect(values, f"{what}: no WWW-Authenticate header")
    bearer = [v for v in values if v.strip().lower().split(" ")[0].rstrip(",") == "bearer"]
    expect(bearer, f"{what}: WWW-Authenticate is not a Bearer challenge: {values}")
    _, params = parse_challenge(bearer[0])
    if error is None:
        expect("error" not in params,
               f"{what}: a request without credentials gets no error code (RFC 6750 §3.1): {bearer[0]!r}")
    else:
        expect(params.get("error") == error, f"{what}: expected error={error!r}, got {bearer[0]!r}")


def tamper(token: str) -> str:
    """The token with one character in the middle changed (still base64url)."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


# ---------------------------------------------------------------------------------------------
# The suite: processes, shared instances, checks


CHECKS: list[tuple[str, str, object]] = []  # (mode, name, function)


def check(name: str, mode: str = "alone"):
    def register(fn):
        CHECKS.append((mode, name, fn))
        return fn
    return register


class Suite:
    def __init__(self, args):
        self.door = args.door
        self.cmd = args.cmd
        self.peer_door = args.peer_door or args.door
        self.peer_cmd = args.peer_cmd or args.cmd
        self.store = args.store
        self.cwd = os.getcwd()
        self.start_timeout = args.start_timeout
        self.tmp = tempfile.mkdtemp(prefix="itsclassified-conformance-")
        self.processes: list[Process] = []
        self.involved: list[Process] = []
        self.shared: dict[str, object] = {}
        self.memo: dict[str, object] = {}
        self.counter = 0
        self.redis_missing: str | None = None
        if self.store == "redis" and shutil.which("redis-server") is None:
            self.redis_missing = "redis-server is not installed (run scripts/install_redis.sh)"

    # processes

    def track(self, p: Process) -> None:
        self.processes.append(p)
        self.involved.append(p)

    def close(self) -> None:
        for p in reversed(self.processes):
            p.kill()
        self.processes.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def need_redis(self) -> None:
        if self.store != "redis":
            raise Skipped("needs Redis (run without --store memory)")
        if self.redis_missing:
            if os.environ.get("CI") == "true":
                raise CheckFailed(f"CI=true and {self.redis_missing}")
            raise Skipped(self.redis_missing)

    def start_redis(self, name: str) -> Redis:
        self.need_redis()
        return Redis(self, name)

    def shared_redis(self) -> Redis:
        r = self.shared.get("redis")
        if r is None or not r.alive():
            r = self.shared["redis"] = self.start_redis("redis")
        elif r not in self.involved:
            self.involved.append(r)
        return r

    def server_env(self, port: int, env: dict[str, str | None], redis: "Redis | None | str") -> dict:
        out = {k: v for k, v in os.environ.items()
               if not k.startswith("ITSCLASSIFIED_") and k not in ("REDIS_URL", "PORT")}
        out["PORT"] = str(port)
        out["ITSCLASSIFIED_KEYS"] = key_text(KEY_A)
        out["ITSCLASSIFIED_INSECURE_COOKIES"] = "1"
        if redis == "default":
            redis = self.shared_redis() if self.store == "redis" and not self.redis_missing else None
        if redis is not None:
            out["REDIS_URL"] = redis.url
        for k, v in env.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out

    def start_server(self, name: str, env: dict[str, str | None] | None = None,
                     redis="default", peer: bool = False) -> Server:
        self.counter += 1
        name = f"{name}-{self.counter}"
        port = free_port()
        cmd = self.peer_cmd if peer else self.cmd
        return Server(self, name, cmd, self.server_env(port, env or {}, redis))

    def main(self) -> Server:
        """The instance most checks share: insecure cookies, the shared Redis (or none)."""
        s = self.shared.get("main")
        if s is None or not s.alive():
            if s is not None:
                print(f"  note: the shared instance {s.name} had exited "
                      f"(status {s.proc.returncode}); starting another", flush=True)
            s = self.shared["main"] = self.start_server(self.door)
        elif s not in self.involved:
            self.involved.append(s)
        return s

    def pair(self) -> tuple[Server, Server]:
        """Two instances, same keys, same Redis: A runs the command, B the peer command."""
        self.need_redis()
        a, b = self.shared.get("a"), self.shared.get("b")
        if a is None or not a.alive() or b is None or not b.alive():
            redis = self.shared_redis()
            a = self.shared["a"] = self.start_server(f"A-{self.door}", redis=redis)
            b = self.shared["b"] = self.start_server(f"B-{self.peer_door}", redis=redis, peer=True)
        for s in (a, b):
            if s not in self.involved:
                self.involved.append(s)
        return a, b

    def foreign_token(self) -> str:
        """A bearer token of the same purpose made under a key the main instance does not know."""
        t = self.memo.get("foreign")
        if t is None:
            s = self.start_server("foreign-keys", {"ITSCLASSIFIED_KEYS": key_text(KEY_FOREIGN)},
                                  redis=None)
            t, _ = s.login(self.user("foreign"))
            s.kill()
            self.processes.remove(s)
            self.memo["foreign"] = t
        return t

    def user(self, label: str) -> str:
        return f"{label}-{secrets.token_hex(4)}"

    # running

    def run(self, selected) -> int:
        failed = passed = skipped = 0
        start = time.monotonic()
        for mode, name, fn in selected:
            self.involved = []
            for p in self.processes:
                p.set_mark()
            t0 = time.monotonic()
            try:
                fn(self)
            except Skipped as e:
                skipped += 1
                print(f"SKIP {name}: {e}", flush=True)
            except CheckFailed as e:
                failed += 1
                print(f"FAIL {name}: {e} [{time.monotonic() - t0:.1f} s]", flush=True)
                self.print_tails()
            except Exception as e:  # a bug of the suite, or an answer it did not foresee
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                traceback.print_exc(file=sys.stdout)
                self.print_tails()
            else:
                passed += 1
                print(f"PASS {name} [{time.monotonic() - t0:.1f} s]", flush=True)
        print(f"\n{self.door}{'+' + self.peer_door if selected and selected[0][0] == 'paired' else ''}"
              f" ({self.store} store): {passed} passed, {failed} failed, {skipped} skipped "
              f"in {time.monotonic() - start:.1f} s", flush=True)
        return 1 if failed else 0

    def print_tails(self) -> None:
        for p in self.involved:
            if isinstance(p, Redis) and p.alive():
                continue  # its start-up lines are noise; a Redis that died is shown
            lines = p.tail()
            if not lines:
                continue
            print(f"    --- {p.name} (pid {p.pid}): last lines of its output during the check ---")
            for line in lines:
                print(f"    | {line[:300]}")
        sys.stdout.flush()


def poll(what: str, fn, timeout: float, interval: float = 0.1):
    """Calls fn until it returns a true value, at most `timeout` seconds; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Checks: alone


@check("the default session cookie is __Host-session with Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain")
def _(s: Suite):
    srv = s.start_server("secure", {"ITSCLASSIFIED_INSECURE_COOKIES": None})
    r = srv.request("POST", "/login", body={"user_id": s.user("secure"), "role": "member"})
    expect(r.status == 200, f"POST /login: expected 200, got {r.describe()}")
    names = [c.name for c in r.set_cookies]
    expect(names == ["__Host-session"], f"expected one cookie __Host-session, got {names}")
    c = r.set_cookies[0]
    expect_attributes(c, secure=True)


def expect_attributes(c: SetCookie, secure: bool) -> None:
    expect(c.has("secure") == secure, f"{c.name}: Secure {'missing' if secure else 'present'}: {c.line[-160:]!r}")
    expect(c.has("httponly"), f"{c.name}: HttpOnly missing: {c.line[-160:]!r}")
    expect((c.get("samesite") or "").lower() == "lax", f"{c.name}: SameSite is not Lax: {c.line[-160:]!r}")
    expect(c.get("path") == "/", f"{c.name}: Path is not /: {c.line[-160:]!r}")
    expect(not c.has("domain"), f"{c.name}: has a Domain: {c.line[-160:]!r}")


@check("with ITSCLASSIFIED_INSECURE_COOKIES=1 the session cookie is named session, without Secure")
def _(s: Suite):
    srv = s.main()
    r = srv.request("POST", "/login", body={"user_id": s.user("insecure"), "role": "member"})
    expect(r.status == 200, f"POST /login: expected 200, got {r.describe()}")
    names = [c.name for c in r.set_cookies]
    expect(names == ["session"], f"expected one cookie session, got {names}")
    expect_attributes(r.set_cookies[0], secure=False)


@check("by default the session cookie's Max-Age is 86400 s (ITSCLASSIFIED_SESSION_MAX_AGE's default)")
def _(s: Suite):
    srv = s.main()
    r = srv.request("POST", "/login", body={"user_id": s.user("maxage"), "role": "member"})
    expect(r.status == 200, f"POST /login: expected 200, got {r.describe()}")
    c = r.cookie(srv.cookie_name)
    expect(c is not None, f"no {srv.cookie_name} cookie: {r.describe()}")
    age = c.max_age()
    expect(age is not None and 86390 <= age <= 86400, f"Max-Age {age}, expected 86400")


@check("a response that sets or removes the session cookie is Cache-Control private and varies on Cookie (design §4)")
def _(s: Suite):
    srv = s.main()
    user = s.user("cache")
    jar = Jar()
    r = srv.request("POST", "/login", body={"user_id": user, "role": "member"}, jar=jar)
    expect(r.status == 200 and r.set_cookies, f"POST /login: {r.describe()}")
    expect_private(r, "POST /login")
    r = srv.request("POST", "/logout", jar=jar)
    expect(r.status == 204 and r.set_cookies, f"POST /logout: {r.describe()}")
    expect_private(r, "POST /logout")


def expect_private(r: Response, what: str) -> None:
    cc = ",".join(r.header_all("Cache-Control")).lower()
    directives = {d.strip().split("=")[0] for d in cc.split(",") if d.strip()}
    expect("private" in directives or "no-store" in directives,
           f"{what}: Cache-Control {cc!r} is neither private nor no-store")
    expect("public" not in directives and "s-maxage" not in directives,
           f"{what}: Cache-Control {cc!r} lets shared caches keep it")
    vary = {v.strip().lower() for h in r.header_all("Vary") for v in h.split(",")}
    expect("cookie" in vary or "*" in vary, f"{what}: Vary {r.header_all('Vary')} lacks Cookie")


@check("POST /login answers 200 with a token and sets the session cookie")
def _(s: Suite):
    srv = s.main()
    token, jar = srv.login(s.user("login"))
    expect(token_key_id(token) == key_id(KEY_A), "the token is not under the primary key's id")
    expect(srv.cookie_name in jar.cookies, f"no {srv.cookie_name} cookie, got {jar.names()}")


@check("GET /me with the bearer token answers 200 with the user and token_age_secs")
def _(s: Suite):
    srv = s.main()
    user = s.user("me")
    token, _ = srv.login(user, "reader")
    body = srv.expect_me(token, user)
    expect(body["user"] == {"user_id": user, "role": "reader"}, f"user: {body['user']!r}")
    age = body.get("token_age_secs")
    expect(isinstance(age, int) and not isinstance(age, bool) and 0 <= age <= 5,
           f"token_age_secs {age!r}, expected a small integer")


@check("GET /me without a token answers 401 with a Bearer challenge without error code")
def _(s: Suite):
    r = s.main().request("GET", "/me")
    expect(r.status == 401, f"expected 401, got {r.describe()}")
    expect_challenge(r, None, "GET /me without a token")


@check('GET /me with a tampered, foreign-key, session or garbage token answers 401 error="invalid_token"')
def _(s: Suite):
    srv = s.main()
    user = s.user("bad")
    token, jar = srv.login(user)
    cases = [("a tampered token", tamper(token)), ("a token under another key", s.foreign_token()),
             ("garbage", "not-a-token")]
    if srv.cookie_name in jar.cookies:
        cases.append(("the session cookie's token (another salt)", jar.cookies[srv.cookie_name]))
    for what, bad in cases:
        srv.expect_me_refused(bad, what)
    srv.expect_me(token, user, "the genuine token")


@check("GET /session with the cookie answers 200 with the user, and 401 without it")
def _(s: Suite):
    srv = s.main()
    user = s.user("session")
    _, jar = srv.login(user, "editor")
    r = srv.expect_session(jar, user, "editor")
    expect(r.json() == {"user_id": user, "role": "editor"}, f"body {r.json()!r}")
    srv.expect_session_refused(Jar(), "no cookie")
    bad = Jar({k: tamper(v) for k, v in jar.cookies.items()})
    srv.expect_session_refused(bad, "a tampered cookie")


@check("PUT /session changes the role of the same session, and GET /session then sees it")
def _(s: Suite):
    srv = s.main()
    user = s.user("put")
    _, jar = srv.login(user, "member")
    r = srv.request("PUT", "/session", body={"role": "admin"}, jar=jar)
    expect(r.status == 200, f"PUT /session: expected 200, got {r.describe()}")
    expect(r.json() == {"user_id": user, "role": "admin"}, f"PUT /session answered {r.json()!r}")
    srv.expect_session(jar, user, "admin", "the cookie after PUT")


@check("PUT /session without a session answers 401 and sets no cookie")
def _(s: Suite):
    r = s.main().request("PUT", "/session", body={"role": "admin"})
    expect(r.status == 401, f"expected 401, got {r.describe()}")
    expect(not [c for c in r.set_cookies if not c.is_removal()], f"a cookie was issued: {r.set_cookies}")


@check("POST /logout answers 204, removes the cookie, and the saved cookie and bearer token are refused afterwards")
def _(s: Suite):
    srv = s.main()
    user = s.user("logout")
    token, jar = srv.login(user)
    saved = jar.copy()
    srv.expect_me(token, user)
    names = jar.names()
    r = srv.request("POST", "/logout", bearer=token, jar=jar)
    expect(r.status == 204, f"POST /logout: expected 204, got {r.describe()}")
    expect_removed(r, names)
    expect(not jar.cookies, f"cookies left after logout: {jar.names()}")
    srv.expect_session_refused(saved, "the saved cookie")
    srv.expect_me_refused(token, "the bearer token presented at logout")


def expect_removed(r: Response, names: list[str]) -> None:
    for name in names:
        c = r.cookie(name)
        expect(c is not None and c.is_removal(),
               f"the response does not remove the cookie {name} (Set-Cookie: {r.set_cookies})")


@check("POST /logout with a stale, revoked or malformed bearer token and a valid cookie answers 204 and revokes the session")
def _(s: Suite):
    srv = s.main()
    user = s.user("stale")
    revoked, _ = srv.login(user)
    r = srv.request("POST", "/logout", bearer=revoked)
    expect(r.status == 204, f"POST /logout with a bearer token only: expected 204, got {r.describe()}")
    srv.expect_me_refused(revoked, "the token revoked by logout")
    for what, bad in [("a tampered token", tamper(revoked)), ("a token under another key", s.foreign_token()),
                      ("a revoked token", revoked), ("a malformed token", "not-a-token")]:
        _, jar = srv.login(user)
        saved = jar.copy()
        names = jar.names()
        r = srv.request("POST", "/logout", bearer=bad, jar=jar)
        expect(r.status == 204, f"POST /logout with {what} and a valid cookie: expected 204, got {r.describe()}")
        expect_removed(r, names)
        srv.expect_session_refused(saved, f"the cookie saved before the logout with {what}")


@check("a copy of the cookie taken before PUT /session is refused after logout (the session id is revoked)")
def _(s: Suite):
    srv = s.main()
    user = s.user("sid")
    _, jar = srv.login(user, "member")
    before = jar.copy()
    r = srv.request("PUT", "/session", body={"role": "admin"}, jar=jar)
    expect(r.status == 200, f"PUT /session: expected 200, got {r.describe()}")
    expect(jar.cookies != before.cookies, "PUT /session did not issue a new cookie")
    r = srv.request("POST", "/logout", jar=jar)
    expect(r.status == 204, f"POST /logout: expected 204, got {r.describe()}")
    srv.expect_session_refused(before, "the copy taken before PUT /session")


def logout_all_case(s: Suite, how: str) -> None:
    srv = s.main()
    user, other = s.user("all"), s.user("other")
    t1, j1 = srv.login(user)
    t2, j2 = srv.login(user)
    to, jo = srv.login(other)
    if how == "bearer":
        r = srv.request("POST", "/logout-all", bearer=t1)
    else:
        r = srv.request("POST", "/logout-all", jar=j1.copy())
    expect(r.status == 204, f"POST /logout-all with the {how}: expected 204, got {r.describe()}")
    srv.expect_me_refused(t1, "the first token")
    srv.expect_me_refused(t2, "the second token")
    srv.expect_session_refused(j1, "the first session")
    srv.expect_session_refused(j2, "the second session")
    srv.expect_me(to, other, "another user's token")
    srv.expect_session(jo, other, what="another user's session")


@check("POST /logout-all with a bearer token answers 204 and refuses every earlier token and session of that user, no other user's")
def _(s: Suite):
    logout_all_case(s, "bearer")


@check("POST /logout-all with the session cookie answers 204 and refuses every earlier token and session of that user, no other user's")
def _(s: Suite):
    logout_all_case(s, "cookie")


@check("POST /logout-all without credentials answers 401")
def _(s: Suite):
    r = s.main().request("POST", "/logout-all")
    expect(r.status == 401, f"expected 401, got {r.describe()}")


@check("[design §5 floor] a login right after POST /logout-all yields a working token and session")
def _(s: Suite):
    srv = s.main()
    user = s.user("floor")
    token, _ = srv.login(user)
    r = srv.request("POST", "/logout-all", bearer=token)
    expect(r.status == 204, f"POST /logout-all: expected 204, got {r.describe()}")
    token2, jar2 = srv.login(user)
    srv.expect_me(token2, user, "the token of the login after logout-all")
    srv.expect_session(jar2, user, what="the session of the login after logout-all")


def put_role(srv: Server, jar: Jar, role: str) -> Response:
    return srv.request("PUT", "/session", body={"role": role}, jar=jar)


def chunked_state(s: Suite, srv: Server, user: str, size: int) -> tuple[Jar, Response, list[str]]:
    """Logs `user` in and PUTs a role of `size` bytes; the jar, the PUT's response and the
    cookie names the PUT request carried."""
    _, jar = srv.login(user, "member")
    carried = jar.names()
    r = put_role(srv, jar, "x" * size)
    return jar, r, carried


def expect_chunks(srv: Server, r: Response, jar: Jar, what: str) -> list[str]:
    name = srv.cookie_name
    issued = [c for c in r.set_cookies if not c.is_removal()]
    names = [c.name for c in issued]
    chunks = chunk_names(name, names)
    expect(chunks and len(chunks) == len(issued),
           f"{what}: expected chunks {name}.0, {name}.1, ..., got {names}")
    expect(chunks == [f"{name}.{i}" for i in range(len(chunks))] and 2 <= len(chunks) <= MAX_CHUNKS,
           f"{what}: chunk names {chunks}, expected {name}.0 .. {name}.n-1 with 2 <= n <= {MAX_CHUNKS}")
    for c in issued:
        size = len(c.line.encode())
        expect(size <= LINE_LIMIT, f"{what}: the Set-Cookie line of {c.name} is {size} bytes > {LINE_LIMIT}")
        expect(c.value, f"{what}: {c.name} has an empty value")
        expect_attributes(c, secure=name.startswith("__Host-"))
    token = session_token(jar, name)
    expect(token_key_id(token) == key_id(KEY_A), f"{what}: the joined chunks are not a token under the key")
    return chunks


@check("a session of about 5000 bytes is written as chunks session.0, session.1 (lines <= 4096 bytes) that read back")
def _(s: Suite):
    srv = s.main()
    user = s.user("big")
    jar, r, carried = chunked_state(s, srv, user, 5000)
    expect(r.status == 200, f"PUT /session with a 5000-byte role: expected 200, got {r.describe()}")
    expect_chunks(srv, r, jar, "PUT /session with a 5000-byte role")
    for name in carried:  # the single cookie the request carried is expired
        c = r.cookie(name)
        expect(c is not None and c.is_removal(), f"the single cookie {name} the request carried is not expired")
    expect(list(jar.cookies) == chunk_names(srv.cookie_name, jar.names()), f"jar {jar.names()}")
    srv.expect_session(jar, user, "x" * 5000, "the chunked cookie")


@check("a session too large for 3 chunks answers 500 without Set-Cookie, and the session stays as it was")
def _(s: Suite):
    srv = s.main()
    user = s.user("huge")
    _, jar = srv.login(user, "member")
    r = put_role(srv, jar, "y" * 13000)
    expect(r.status == 500, f"PUT /session with a 13000-byte role: expected 500, got {r.describe()}")
    expect(not r.set_cookies, f"the 500 carries Set-Cookie: {r.set_cookies}")
    srv.expect_session(jar, user, "member", "the cookie after the refused write")


@check("a smaller session expires the stale chunks (3 chunks -> 2 -> a single cookie) and reads back")
def _(s: Suite):
    srv = s.main()
    name = srv.cookie_name
    user = s.user("shrink")
    jar, r, _ = chunked_state(s, srv, user, 8000)
    expect(r.status == 200, f"PUT /session with an 8000-byte role: expected 200, got {r.describe()}")
    three = expect_chunks(srv, r, jar, "PUT /session with an 8000-byte role")
    expect(len(three) == 3, f"an 8000-byte role needs 3 chunks (2 hold at most 8192 bytes), got {three}")
    srv.expect_session(jar, user, "x" * 8000, "the chunked cookie")
    for size in (5000, 20):
        carried = jar.names()
        r = put_role(srv, jar, "z" * size)
        what = f"PUT /session with a {size}-byte role after {len(carried)} chunks"
        expect(r.status == 200, f"{what}: expected 200, got {r.describe()}")
        if size == 20:
            c = r.cookie(name)
            expect(c is not None and not c.is_removal(), f"{what}: no single cookie {name}: {r.set_cookies}")
            now = [name]
        else:
            now = expect_chunks(srv, r, jar, what)
        stale = [n for n in carried if n not in now]
        expect_removed(r, stale)
        expect(sorted(jar.names()) == sorted(now), f"{what}: the jar holds {jar.names()}, expected {now}")
        srv.expect_session(jar, user, "z" * size, f"the cookie after {what}")


# The lifetime checks share one instance and one timeline (about 8 s).
LIFE = {"ITSCLASSIFIED_SESSION_MAX_AGE": "4", "ITSCLASSIFIED_SESSION_RENEW_AFTER": "2",
        "ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME": "6"}


def lifetime_timeline(s: Suite) -> dict:
    """Runs once: login at t=0 and GET /session every second until t=7.5 (renewals kept in the
    jar, also one whose Max-Age is 0 because the absolute lifetime ends); a second session started at t=1 is left unused until t=6.6. Returns what happened;
    each lifetime check judges its part."""
    if "life" in s.memo:
        result = s.memo["life"]
        for p in result.get("processes", []):
            if p not in s.involved:
                s.involved.append(p)
        if isinstance(result.get("error"), CheckFailed):
            raise CheckFailed(f"the lifetime timeline failed: {result['error']}")
        return result
    result: dict = {"processes": []}
    s.memo["life"] = result
    try:
        srv = s.start_server("lifetimes", dict(LIFE))
        result["processes"] = [srv]
        user, idle_user = s.user("life"), s.user("idle")
        t0 = time.monotonic()
        jar = Jar()
        r = srv.request("POST", "/login", body={"user_id": user, "role": "member"}, jar=jar)
        expect(r.status == 200, f"POST /login: {r.describe()}")
        result["login_cookie"] = r.cookie(srv.cookie_name)
        first = dict(jar.cookies)
        steps = []
        idle = None
        k = 1
        while True:
            target = t0 + k
            if k == 7:
                target = t0 + 7.5
            time.sleep(max(0.0, target - time.monotonic()))
            if k == 1:
                _, idle = srv.login(idle_user)
                result["idle_start"] = time.monotonic() - t0
            r = srv.request("GET", "/session", jar=jar, keep_valued=True)
            steps.append((time.monotonic() - t0, r, dict(jar.cookies)))
            if k == 6:
                time.sleep(max(0.0, t0 + 6.6 - time.monotonic()))
                ri = srv.request("GET", "/session", jar=idle, keep=False)
                result["idle"] = (time.monotonic() - t0 - result["idle_start"], ri)
            if k == 7:
                break
            k += 1
        result.update(steps=steps, first=first, user=user)
    except CheckFailed as e:
        result["error"] = e
        raise
    return result


@check("with ITSCLASSIFIED_SESSION_MAX_AGE=4 the session cookie's Max-Age is at most 4 s")
def _(s: Suite):
    life = lifetime_timeline(s)
    c = life["login_cookie"]
    expect(c is not None, "POST /login set no session cookie")
    age = c.max_age()
    expect(age is not None and 0 < age <= 4, f"the login cookie's Max-Age is {age}, expected 4")


@check("a session used after ITSCLASSIFIED_SESSION_RENEW_AFTER=2 gets a renewed cookie of the same session")
def _(s: Suite):
    life = lifetime_timeline(s)
    renewed = None
    for at, r, cookies in life["steps"]:
        if at < 5.9:
            expect(r.status == 200, f"GET /session at t={at:.1f} s: expected 200, got {r.describe()}")
            expect(r.json().get("user_id") == life["user"], f"GET /session at t={at:.1f} s: {r.json()!r}")
            if renewed is None and cookies != life["first"]:
                renewed = at
                c = [c for c in r.set_cookies if not c.is_removal()]
                expect(c and all((x.max_age() or 0) > 0 and x.max_age() <= 4 for x in c),
                       f"the renewed cookie's Max-Age is not within 1..4: {[x.line[-60:] for x in c]}")
    expect(renewed is not None, "no renewed cookie until t=6 s (renew after 2 s, max age 4 s)")
    expect(renewed <= 3.5, f"the first renewal came at t={renewed:.1f} s, expected by t=3 s")


@check("a session renewed all along is refused after ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME=6")
def _(s: Suite):
    life = lifetime_timeline(s)
    at, r, _ = life["steps"][-1]
    ok = [st for st in life["steps"] if st[0] < 5.9]
    expect(all(st[1].status == 200 for st in ok),
           f"the session did not live until t=6 s: {[(round(a, 1), x.status) for a, x, _ in ok]}")
    expect(r.status == 401, f"GET /session at t={at:.1f} s (absolute lifetime 6 s): expected 401, got {r.describe()}")
    expect(not [c for c in r.set_cookies if not c.is_removal()], f"a cookie was issued: {r.set_cookies}")


@check("a session cookie not used for longer than ITSCLASSIFIED_SESSION_MAX_AGE=4 is refused")
def _(s: Suite):
    life = lifetime_timeline(s)
    expect("idle" in life, "the timeline did not get that far")
    idle_for, r = life["idle"]
    expect(r.status == 401, f"GET /session with a cookie unused for {idle_for:.1f} s: expected 401, got {r.describe()}")


@check("ITSCLASSIFIED_KEYS_FILE wins over ITSCLASSIFIED_KEYS")
def _(s: Suite):
    srv = key_file_server(s)
    token, jar = srv.login(s.user("kf"))
    expect(token_key_id(token) == key_id(KEY_B),
           f"token key id {token_key_id(token):08x}, expected the file's key {key_id(KEY_B):08x}")


def key_file_server(s: Suite) -> Server:
    state = s.memo.get("keyfile")
    if state is None or not state["srv"].alive():
        path = os.path.join(s.tmp, "keys.txt")
        with open(path, "w") as f:
            f.write(f"# the conformance suite's key file\n{key_text(KEY_B)}\n")
        srv = s.start_server("keyfile", {"ITSCLASSIFIED_KEYS_FILE": path})
        user = s.user("kf-before")
        token, jar = srv.login(user)
        state = s.memo["keyfile"] = {"path": path, "srv": srv, "user": user, "token": token, "jar": jar}
    elif state["srv"] not in s.involved:
        s.involved.append(state["srv"])
    return state["srv"]


def new_token_kid(srv: Server, s: Suite) -> tuple[int, int]:
    token, jar = srv.login(s.user("kid"))
    return token_key_id(token), token_key_id(session_token(jar, srv.cookie_name))


@check("after SIGHUP with a new primary key in the key file, new tokens and cookies use it and earlier ones still load")
def _(s: Suite):
    srv = key_file_server(s)
    st = s.memo["keyfile"]
    path, old_token, old_jar, old_user = st["path"], st["token"], st["jar"], st["user"]
    with open(path, "w") as f:
        f.write(f"{key_text(KEY_C)}\n# the previous primary, still accepted\n{key_text(KEY_B)}\n")
    srv.signal(signal.SIGHUP)
    want = (key_id(KEY_C), key_id(KEY_C))
    got = poll("new key", lambda: (new_token_kid(srv, s) == want) or None, 3, 0.2)
    expect(got, f"3 s after SIGHUP, new tokens and cookies have key ids "
           f"{['%08x' % k for k in new_token_kid(srv, s)]}, expected {key_id(KEY_C):08x}")
    srv.expect_me(old_token, old_user, "a token issued before the reload")
    srv.expect_session(old_jar, old_user, what="a cookie issued before the reload")


@check("after SIGHUP with a garbage or missing key file the keys in force stay")
def _(s: Suite):
    srv = key_file_server(s)
    path = s.memo["keyfile"]["path"]
    before = new_token_kid(srv, s)
    user = s.user("garbage")
    token, jar = srv.login(user)
    for what in ("garbage", "missing"):
        if what == "garbage":
            with open(path, "w") as f:
                f.write("this is not a key\n")
        else:
            os.remove(path)
        srv.signal(signal.SIGHUP)
        time.sleep(0.5)
        expect(srv.alive(), f"the service exited after SIGHUP with a {what} key file")
        expect(new_token_kid(srv, s) == before, f"a {what} key file changed the keys in force")
        srv.expect_me(token, user, f"a token issued before the SIGHUP with a {what} key file")
        srv.expect_session(jar, user, what=f"a cookie issued before the SIGHUP with a {what} key file")


@check("SIGHUP without a key file does not stop the service")
def _(s: Suite):
    srv = s.start_server("sighup")
    user = s.user("hup")
    token, _ = srv.login(user)
    srv.signal(signal.SIGHUP)
    time.sleep(0.5)
    status = srv.proc.poll()
    if status is not None and status < 0:
        raise CheckFailed(f"killed by signal {-status} ({signal.Signals(-status).name}): "
                          "the service does not handle SIGHUP when it has no key file")
    expect(status is None, f"the service exited after SIGHUP (status {status})")
    srv.expect_me(token, user, "the token after SIGHUP")


@check("SIGTERM stops the service with exit status 0 within 5 s")
def _(s: Suite):
    srv = s.start_server("sigterm")
    srv.login(s.user("term"))
    srv.signal(signal.SIGTERM)
    status = srv.wait_exit(5)
    expect(status is not None, "still running 5 s after SIGTERM")
    if status < 0:
        raise CheckFailed(f"killed by signal {-status} ({signal.Signals(-status).name}): "
                          "no SIGTERM handler; expected a clean exit with status 0")
    expect(status == 0, f"exit status {status}, expected 0")


def outage_state(s: Suite) -> dict:
    """One Redis and one instance for the store-outage checks, and a user logged in."""
    st = s.memo.get("outage")
    if st is None:
        s.need_redis()
        st = s.memo["outage"] = {"phase": "up"}
        redis = s.start_redis("redis-outage")
        srv = s.start_server("outage", redis=redis)
        user = s.user("outage")
        token, jar = srv.login(user, "member")
        st.update(redis=redis, srv=srv, user=user, token=token, jar=jar)
    for p in (st.get("redis"), st.get("srv")):
        if p is not None and p not in s.involved:
            s.involved.append(p)
    return st


def expect_503(r: Response, what: str) -> None:
    expect(r.status == 503, f"{what}: expected 503, got {r.describe()}"
           + (" (a client told its token is invalid throws it away)" if r.status == 401 else ""))
    ra = r.header("Retry-After")
    expect(ra is not None, f"{what}: 503 without Retry-After")
    expect(ra.strip().isdigit() or email.utils.parsedate_to_datetime(ra) is not None,
           f"{what}: Retry-After {ra!r} is neither seconds nor a date")
    expect(not r.set_cookies, f"{what}: 503 with Set-Cookie {r.set_cookies}")


def stopped(st: dict) -> None:
    if st["phase"] == "up":
        st["redis"].signal(signal.SIGSTOP)
        st["phase"] = "stopped"


@check("store outage: with Redis stopped (SIGSTOP), GET /me with a valid token answers 503 with Retry-After, never 401")
def _(s: Suite):
    st = outage_state(s)
    stopped(st)
    for i in range(2):
        r = st["srv"].request("GET", "/me", bearer=st["token"])
        expect_503(r, f"GET /me #{i + 1} with Redis stopped ({r.elapsed * 1000:.0f} ms)")


@check("store outage: with Redis stopped, GET /session answers 503 without Set-Cookie")
def _(s: Suite):
    st = outage_state(s)
    stopped(st)
    r = st["srv"].request("GET", "/session", jar=st["jar"], keep=False)
    expect_503(r, f"GET /session with Redis stopped ({r.elapsed * 1000:.0f} ms)")


@check("store outage: with Redis stopped, PUT /session answers 503 without Set-Cookie and POST /logout answers 503")
def _(s: Suite):
    st = outage_state(s)
    stopped(st)
    r = st["srv"].request("PUT", "/session", body={"role": "changed-during-outage"}, jar=st["jar"], keep=False)
    expect_503(r, "PUT /session with Redis stopped")
    r = st["srv"].request("POST", "/logout", bearer=st["token"], jar=st["jar"], keep=False)
    expect(r.status == 503, f"POST /logout with Redis stopped: expected 503, got {r.describe()}")


@check("store outage: after SIGCONT, GET /me and GET /session answer 200 within 3 s, the session intact")
def _(s: Suite):
    st = outage_state(s)
    stopped(st)
    st["redis"].signal(signal.SIGCONT)
    st["phase"] = "up"
    srv = st["srv"]
    t0 = time.monotonic()
    last = {}

    def both_ok():
        last["me"] = srv.request("GET", "/me", bearer=st["token"])
        last["session"] = srv.request("GET", "/session", jar=st["jar"].copy(), keep=False)
        return last["me"].status == 200 and last["session"].status == 200

    ok = poll("recovery", both_ok, 3, 0.2)
    expect(ok, f"3 s after SIGCONT: GET /me {last['me'].describe()}, GET /session {last['session'].describe()}")
    srv.expect_me(st["token"], st["user"], "the token after the outage")
    srv.expect_session(st["jar"], st["user"], "member", "the cookie after the outage")
    print(f"  (recovered {time.monotonic() - t0:.1f} s after SIGCONT)")


@check("store outage: with Redis killed, GET /me and GET /session answer 503")
def _(s: Suite):
    st = outage_state(s)
    if st["phase"] == "stopped":
        st["redis"].signal(signal.SIGCONT)
    st["redis"].kill()
    st["phase"] = "dead"
    r = st["srv"].request("GET", "/me", bearer=st["token"])
    expect_503(r, "GET /me with Redis killed")
    r = st["srv"].request("GET", "/session", jar=st["jar"], keep=False)
    expect_503(r, "GET /session with Redis killed")


# ---------------------------------------------------------------------------------------------
# Checks: paired (A runs the command, B the peer command; same keys, one Redis)


@check("paired: a token and a session cookie from A work on B", "paired")
def _(s: Suite):
    a, b = s.pair()
    user = s.user("pair")
    token, jar = a.login(user, "member")
    b.expect_me(token, user, "A's token")
    b.expect_session(jar, user, "member", "A's cookie")


@check("paired: a logout on A refuses the copies of the token and the cookie on B", "paired")
def _(s: Suite):
    a, b = s.pair()
    user = s.user("pair-logout")
    token, jar = a.login(user)
    saved = jar.copy()
    b.expect_session(saved, user, what="A's cookie before the logout")
    r = a.request("POST", "/logout", bearer=token, jar=jar)
    expect(r.status == 204, f"POST /logout on A: expected 204, got {r.describe()}")
    b.expect_me_refused(token, "the token logged out on A")
    b.expect_session_refused(saved, "the cookie logged out on A")


@check("paired: a logout-all on B refuses A's tokens and sessions of that user", "paired")
def _(s: Suite):
    a, b = s.pair()
    user, other = s.user("pair-all"), s.user("pair-other")
    ta, ja = a.login(user)
    tb, _ = b.login(user)
    to, jo = a.login(other)
    r = b.request("POST", "/logout-all", bearer=tb)
    expect(r.status == 204, f"POST /logout-all on B: expected 204, got {r.describe()}")
    a.expect_me_refused(ta, "A's token after logout-all on B")
    a.expect_session_refused(ja, "A's session after logout-all on B")
    a.expect_me(to, other, "another user's token")
    a.expect_session(jo, other, what="another user's session")


@check("paired: a session changed on B (PUT /session) reads on A", "paired")
def _(s: Suite):
    a, b = s.pair()
    user = s.user("pair-put")
    _, jar = a.login(user, "member")
    r = b.request("PUT", "/session", body={"role": "changed-on-b"}, jar=jar)
    expect(r.status == 200, f"PUT /session on B: expected 200, got {r.describe()}")
    a.expect_session(jar, user, "changed-on-b", "the cookie changed on B")


@check("paired: a chunked session made on A reads on B, and one B makes larger (3 chunks) reads on A", "paired")
def _(s: Suite):
    a, b = s.pair()
    user = s.user("pair-chunks")
    _, jar = a.login(user, "member")
    r = put_role(a, jar, "x" * 5000)
    expect(r.status == 200, f"PUT /session on A with a 5000-byte role: expected 200, got {r.describe()}")
    expect_chunks(a, r, jar, "PUT /session on A with a 5000-byte role")
    b.expect_session(jar, user, "x" * 5000, "A's chunked cookie")
    r = put_role(b, jar, "y" * 8000)
    expect(r.status == 200, f"PUT /session on B with an 8000-byte role: expected 200, got {r.describe()}")
    chunks = expect_chunks(b, r, jar, "PUT /session on B with an 8000-byte role")
    expect(len(chunks) == 3, f"an 8000-byte role needs 3 chunks, got {chunks}")
    a.expect_session(jar, user, "y" * 8000, "B's chunked cookie")


@check("paired: [design §5 floor] a login on A right after a logout-all on B works on both", "paired")
def _(s: Suite):
    a, b = s.pair()
    user = s.user("pair-floor")
    tb, _ = b.login(user)
    r = b.request("POST", "/logout-all", bearer=tb)
    expect(r.status == 204, f"POST /logout-all on B: expected 204, got {r.describe()}")
    token, jar = a.login(user)
    for srv in (a, b):
        srv.expect_me(token, user, "the token of the login after logout-all")
        srv.expect_session(jar, user, what="the session of the login after logout-all")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    else:
        cmd = shlex.split(os.environ.get("CONFORMANCE_CMD", ""))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                usage="%(prog)s --door NAME [options] -- COMMAND...")
    p.add_argument("--door", default=os.environ.get("CONFORMANCE_DOOR", "example"),
                   help="name of the door under test (for the report)")
    p.add_argument("--paired", action="store_true",
                   help="run the paired checks: the command and the peer command through one Redis")
    p.add_argument("--peer-door", default=os.environ.get("CONFORMANCE_PEER_DOOR"))
    p.add_argument("--peer-cmd", default=os.environ.get("CONFORMANCE_PEER_CMD"),
                   help="the peer's start command, one shell-quoted string (default: the command)")
    p.add_argument("--store", choices=["redis", "memory"], default="redis",
                   help="redis: REDIS_URL to a redis-server the suite starts (default); memory: no REDIS_URL")
    p.add_argument("-k", dest="only", action="append", default=[],
                   help="run only checks whose name contains this text (repeatable)")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--start-timeout", type=float,
                   default=float(os.environ.get("CONFORMANCE_START_TIMEOUT", "60")),
                   help="seconds to wait for an instance's port (default 60)")
    args = p.parse_args(argv)
    mode = "paired" if args.paired else "alone"
    selected = [c for c in CHECKS if c[0] == mode
                and (not args.only or any(o.lower() in c[1].lower() for o in args.only))]
    if args.list:
        for m, name, _ in CHECKS:
            print(f"{m:6}  {name}")
        return 0
    if not cmd:
        p.error("no start command: give it after -- or in CONFORMANCE_CMD")
    args.cmd = cmd
    args.peer_cmd = shlex.split(args.peer_cmd) if args.peer_cmd else None
    if mode == "paired" and args.store != "redis":
        p.error("--paired needs --store redis")
    if not selected:
        p.error("no check selected")

    suite = Suite(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    peer = f" + {args.peer_door or args.door}: {shlex.join(args.peer_cmd or cmd)}" if args.paired else ""
    print(f"conformance ({mode}, {args.store} store): {args.door}: {shlex.join(cmd)}{peer}", flush=True)
    try:
        return suite.run(selected)
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}): stopping the started processes", flush=True)
        return 130
    finally:
        suite.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
