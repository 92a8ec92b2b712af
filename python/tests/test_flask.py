"""itsclassified.flask.SessionInterface over a real werkzeug server on 127.0.0.1 (and Flask's
test client where only Flask's own plumbing is tested)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import flask
import httpx
import pytest
from werkzeug.serving import make_server

import itsclassified
from itsclassified import SessionPolicy, TimedSerializer
from itsclassified.flask import SessionInterface, logout, logout_all
from itsclassified.revocation import MemoryStore, RedisStore

KEY = itsclassified.generate_key()
SALT = "flask-session"
OLD_SECRET = "the-old-flask-secret-key"
SUNSET = datetime.now(timezone.utc) + timedelta(days=30)


def make_app(interface: SessionInterface | None = None, **config) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(config)
    app.session_interface = interface or SessionInterface(KEY)

    @app.post("/login")
    def login():
        flask.session.regenerate(flask.request.get_json())
        flask.session.permanent = bool(flask.request.args.get("permanent"))
        return {"ok": True}

    @app.get("/me")
    def me():
        return dict(flask.session)

    @app.get("/public")
    def public():
        return {"public": True}

    @app.post("/big")
    def big():
        flask.session["blob"] = "x" * int(flask.request.args["n"])
        return {"ok": True}

    @app.post("/cart")
    def cart():
        flask.session["cart"].append("apple")  # a nested change, not seen by the dict
        return {"ok": True}

    @app.post("/logout")
    def do_logout():
        logout()
        return "", 204

    @app.post("/logout-all")
    def do_logout_all():
        logout_all(flask.session["user_id"])
        return "", 204

    return app


class Served:
    """A Flask app on a real werkzeug server in a thread, on a port the OS picks."""

    def __init__(self, app: flask.Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def request(self, method: str, path: str, cookie: str | None = None, json=None) -> httpx.Response:
        headers = {"cookie": cookie} if cookie is not None else {}
        return httpx.request(method, self.url + path, headers=headers, json=json, timeout=10)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def served():
    servers: list[Served] = []

    def start(app: flask.Flask) -> Served:
        servers.append(Served(app))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def jar(response: httpx.Response) -> str:
    pairs = [line.split(";", 1)[0] for line in response.headers.get_list("set-cookie")]
    return "; ".join(p for p in pairs if not p.endswith("="))


def opened(cookie: str, max_age: int = 31 * 86400):
    token = cookie.split("=", 1)[1]
    return SessionPolicy(TimedSerializer(KEY, SALT, max_age=max_age)).open_session(token)


def test_login_read_back_and_logout_with_flask_settings(served):
    srv = served(make_app(SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=timedelta(hours=2)))
    r = srv.request("POST", "/login", json={"user_id": "1", "role": "admin"})
    (line,) = r.headers.get_list("set-cookie")
    assert line.startswith("session=") and "; HttpOnly; SameSite=Strict; Path=/; Max-Age=7200" in line
    assert "Secure" not in line  # SESSION_COOKIE_SECURE is False by default in Flask
    assert r.headers["cache-control"] == "private" and "Cookie" in r.headers["vary"]
    cookie = jar(r)
    value, _, _, _ = opened(cookie)
    assert value == {"user_id": "1", "role": "admin", "_permanent": False}
    r = srv.request("GET", "/me", cookie)
    assert r.json()["user_id"] == "1" and r.headers.get_list("set-cookie") == []
    assert "Cookie" in r.headers["vary"]  # accessed
    r = srv.request("GET", "/public", cookie)
    assert r.headers.get_list("set-cookie") == [] and "vary" not in r.headers  # not accessed
    r = srv.request("POST", "/logout", cookie)
    assert r.status_code == 204
    (line,) = r.headers.get_list("set-cookie")
    assert line.startswith("session=;") and "Max-Age=0" in line


def test_secure_partitioned_and_host_prefixed_cookies(served):
    app = make_app(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_PARTITIONED=True, SESSION_COOKIE_NAME="__Host-session")
    srv = served(app)
    (line,) = srv.request("POST", "/login", json={"user_id": "1"}).headers.get_list("set-cookie")
    assert line.startswith("__Host-session=") and "; Secure; Path=/;" in line and line.endswith("; Partitioned")


@pytest.mark.parametrize(
    "config",
    [
        {"SESSION_COOKIE_PATH": "/; Domain=evil.example"},
        {"SESSION_COOKIE_DOMAIN": "example.com; Secure"},
        {"SESSION_COOKIE_NAME": "a b"},
        {"SESSION_COOKIE_NAME": "__Host-session"},  # without Secure
        {"SESSION_COOKIE_PARTITIONED": True},  # without Secure
    ],
)
def test_settings_that_would_inject_or_be_dropped_are_refused(config):
    app = make_app(**config)
    with pytest.raises(ValueError):
        app.session_interface.policy(app)


def test_nested_changes_are_saved_and_a_session_too_large_is_a_500_without_cookie(served):
    srv = served(make_app())
    cookie = jar(srv.request("POST", "/login", json={"cart": []}))
    r = srv.request("POST", "/cart", cookie)
    assert srv.request("GET", "/me", jar(r)).json()["cart"] == ["apple"]
    r = srv.request("POST", "/big?n=5000", cookie)
    assert r.status_code == 500 and r.headers.get_list("set-cookie") == []


def test_chunks_with_max_chunks(served):
    srv = served(make_app(SessionInterface(KEY, max_chunks=3)))
    r = srv.request("POST", "/big?n=5000")
    assert [line.split("=", 1)[0] for line in r.headers.get_list("set-cookie")] == ["session.0", "session.1"]
    assert srv.request("GET", "/me", jar(r)).json()["blob"] == "x" * 5000


def test_refresh_each_request_renews_the_same_session_within_its_absolute_lifetime(served):
    interface = SessionInterface(KEY, absolute_lifetime=7 * 86400, renew_after=60)
    srv = served(make_app(interface))
    started = time.time() - 3600
    policy = SessionPolicy(TimedSerializer(KEY, SALT, max_age=31 * 86400))
    token = policy.seal_new_session({"user_id": "1", "_permanent": True}, started)
    _, session_id, start, _ = policy.open_session(token)
    r = srv.request("GET", "/me", f"session={token}")
    value, new_id, new_start, issued_at = opened(jar(r))
    assert (new_id, new_start) == (session_id, start) and issued_at > started + 3000
    # Without SESSION_REFRESH_EACH_REQUEST, nothing is renewed.
    srv = served(make_app(SessionInterface(KEY, absolute_lifetime=7 * 86400, renew_after=60), SESSION_REFRESH_EACH_REQUEST=False))
    assert srv.request("GET", "/me", f"session={token}").headers.get_list("set-cookie") == []
    # An absolute lifetime refuses an old session whatever its token's age.
    old = policy.seal_new_session({"user_id": "1"}, time.time() - 8 * 86400)
    assert srv.request("GET", "/me", f"session={old}").json() == {}


def test_logout_everywhere_and_a_revoked_copy_with_a_real_redis(served, redis_server):
    store = RedisStore.from_url(redis_server.url)
    srv = served(make_app(SessionInterface(KEY, revocation=store, subject=lambda s: s.get("user_id"))))
    one = jar(srv.request("POST", "/login", json={"user_id": "ann"}))
    two = jar(srv.request("POST", "/login", json={"user_id": "ann"}))
    other = jar(srv.request("POST", "/login", json={"user_id": "ben"}))
    assert srv.request("POST", "/logout", one).status_code == 204
    assert srv.request("GET", "/me", one).json() == {}
    assert srv.request("GET", "/me", two).json()["user_id"] == "ann"
    assert srv.request("POST", "/logout-all", two).status_code == 204
    assert srv.request("GET", "/me", two).json() == {}
    assert srv.request("GET", "/me", other).json()["user_id"] == "ben"
    # A login right after it works.
    three = jar(srv.request("POST", "/login", json={"user_id": "ann"}))
    assert srv.request("GET", "/me", three).json()["user_id"] == "ann"


def test_a_store_that_cannot_answer_is_a_503_without_cookie(served, redis_server):
    import signal

    store = RedisStore.from_url(redis_server.url)
    srv = served(make_app(SessionInterface(KEY, revocation=store, subject=lambda s: s.get("user_id"))))
    cookie = jar(srv.request("POST", "/login", json={"user_id": "cat"}))
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        for method, path, body in (("GET", "/me", None), ("POST", "/login", {"user_id": "dog"}), ("POST", "/logout", None)):
            began = time.monotonic()
            r = srv.request(method, path, cookie if path != "/login" else None, json=body)
            assert r.status_code == 503 and r.headers["retry-after"] == "1", (path, r.status_code)
            assert r.headers.get_list("set-cookie") == [] and time.monotonic() - began < 2
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 5
    while srv.request("GET", "/me", cookie).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert srv.request("GET", "/me", cookie).json()["user_id"] == "cat"


# --- migration from Flask's own signed cookie --------------------------------------------------


def flask_made_cookie(served, secret: str, data: dict) -> str:
    """A session cookie made by Flask's own SecureCookieSessionInterface, over HTTP."""
    old = flask.Flask("old")
    old.secret_key = secret

    @old.post("/login")
    def login():
        flask.session.update(data)
        return "ok"

    (line,) = served(old).request("POST", "/login").headers.get_list("set-cookie")
    return line.split(";", 1)[0]


def test_a_real_flask_cookie_migrates_once_until_the_sunset(served):
    legacy = flask_made_cookie(served, OLD_SECRET, {"user_id": "old", "when": datetime(2024, 1, 2, tzinfo=timezone.utc), "blob": "y" * 600})
    assert legacy.startswith("session=.")  # zlib-compressed: itsdangerous's "." prefix
    app = make_app(SessionInterface(KEY, legacy_until=SUNSET))
    app.secret_key = "the-new-flask-secret"
    app.config["SECRET_KEY_FALLBACKS"] = [OLD_SECRET]
    srv = served(app)
    r = srv.request("GET", "/me", legacy)
    assert r.json()["user_id"] == "old" and r.json()["blob"] == "y" * 600
    assert r.json()["when"] == "2024-01-02T00:00:00+00:00"  # tagged JSON's datetime, as text
    upgraded = jar(r)
    value, _, _, _ = opened(upgraded)
    assert value["user_id"] == "old"
    r = srv.request("GET", "/me", upgraded)
    assert r.json()["user_id"] == "old" and r.headers.get_list("set-cookie") == []


def test_a_flask_cookie_is_refused_without_a_sunset_after_it_or_under_another_secret(served):
    legacy = flask_made_cookie(served, OLD_SECRET, {"user_id": "old"})
    app = make_app(SessionInterface(KEY))
    app.secret_key = OLD_SECRET
    assert served(app).request("GET", "/me", legacy).json() == {}
    app = make_app(SessionInterface(KEY, legacy_until=datetime.now(timezone.utc) - timedelta(minutes=1)))
    app.secret_key = OLD_SECRET
    r = served(app).request("GET", "/me", legacy)  # signed a moment ago: after the sunset
    assert r.json() == {} and r.headers.get_list("set-cookie") == []
    app = make_app(SessionInterface(KEY, legacy_until=SUNSET))
    app.secret_key = "another-secret"
    assert served(app).request("GET", "/me", legacy).json() == {}
    with pytest.raises(ValueError, match="aware"):
        SessionInterface(KEY, legacy_until=datetime(2030, 1, 1))
