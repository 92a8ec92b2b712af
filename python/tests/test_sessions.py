"""The SessionMiddleware on the crate's session core, over a real uvicorn server: what a review
as an attacker found in the earlier pure-Python middleware, the new parameters (absolute
lifetime, renewal, chunks, partitioned) and revocation (in memory and in a real Redis)."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from fastapi import FastAPI, Request, Response

import itsclassified
from itsclassified import InvalidToken, SessionPolicy, TimedSerializer
from itsclassified.revocation import AsyncRedisStore, MemoryStore, RedisStore, StoreUnavailable
from itsclassified.starlette import SessionMiddleware, logout, logout_all

NAME = "__Host-session"
KEY = itsclassified.generate_key()
SALT = "starlette-session"
DAY = 86400


def app_with(**options) -> FastAPI:
    app = FastAPI()
    options.setdefault("secret_key", KEY)
    app.add_middleware(SessionMiddleware, **options)

    @app.post("/login")
    async def login(request: Request, response: Response):
        body = await request.json()
        request.session.regenerate(body)
        response.headers["cache-control"] = "public, max-age=600, s-maxage=600"
        return {"ok": True}

    @app.get("/me")
    async def me(request: Request):
        return dict(request.session)

    @app.get("/cached")
    async def cached(request: Request, response: Response):
        response.headers["cache-control"] = "public, max-age=60"
        return dict(request.session)

    @app.post("/big")
    async def big(request: Request):
        request.session["blob"] = "x" * int(request.query_params["n"])
        return {"ok": True}

    @app.post("/logout")
    async def do_logout(request: Request):
        await logout(request)
        return Response(status_code=204)

    @app.post("/logout-all")
    async def do_logout_all(request: Request):
        user = request.session.get("user_id")
        await logout_all(request, user)
        return Response(status_code=204)

    return app


def request(server, method: str, path: str, cookie: str | bytes | None = None, json=None) -> httpx.Response:
    headers = {"cookie": cookie} if cookie is not None else {}
    return httpx.request(method, server.url + path, headers=headers, json=json, timeout=10)


def jar(response: httpx.Response) -> str:
    """The Cookie header a browser sends back after this response (removals dropped)."""
    pairs = [line.split(";", 1)[0] for line in response.headers.get_list("set-cookie")]
    return "; ".join(p for p in pairs if not p.endswith("="))


def sealed(value, now=None, key=KEY, max_age=DAY) -> str:
    return SessionPolicy(TimedSerializer(key, SALT, max_age=max_age)).seal_new_session(value, now)


def opened(token: str, max_age=DAY):
    return SessionPolicy(TimedSerializer(KEY, SALT, max_age=max_age)).open_session(token)


def login(server, user="u1") -> httpx.Response:
    r = request(server, "POST", "/login", json={"user_id": user, "role": "admin"})
    assert r.status_code == 200, r.text
    return r


# --- what the review found ---------------------------------------------------------------------


def test_a_response_that_mints_a_session_is_made_private(serve):
    server = serve(app_with())
    r = login(server)
    assert r.headers["cache-control"] == "private, max-age=600"
    assert "cookie" in r.headers["vary"].lower()


def test_a_shared_cacheable_response_gets_no_renewal(serve):
    server = serve(app_with(max_age=DAY, renew_after=3600, absolute_lifetime=7 * DAY))
    old = sealed({"user_id": "u1"}, now=time.time() - 7200)
    r = request(server, "GET", "/cached", f"{NAME}={old}")
    assert r.json() == {"user_id": "u1"}
    assert r.headers.get_list("set-cookie") == [] and r.headers["cache-control"] == "public, max-age=60"


def test_junk_and_foreign_cookies_of_the_same_name_never_hide_the_real_one(serve):
    server = serve(app_with())
    real = sealed({"user_id": "victim"})
    foreign = SessionPolicy(TimedSerializer(itsclassified.generate_key(), SALT, max_age=DAY)).seal_new_session({"user_id": "x"})
    # Ahead of it (a sibling subdomain's cookies come first when their path is longer), and behind.
    for header in (
        f"{NAME}=junk; {NAME}={foreign}; {NAME}=; {NAME}={real}",
        f"{NAME}={real}; {NAME}={foreign}",
        f"other=1; {NAME}=\u00e9t\u00e9; {NAME}={real}",
    ):
        r = request(server, "GET", "/me", header.encode("utf-8"))
        assert r.json() == {"user_id": "victim"}, header


def test_the_cookie_name_defaults_to_host_prefix_and_an_explicit_name_stays():
    assert SessionMiddleware(None, KEY).session_cookie == "__Host-session"
    assert SessionMiddleware(None, KEY, https_only=False).session_cookie == "session"
    assert SessionMiddleware(None, KEY, domain="example.com").session_cookie == "session"
    assert SessionMiddleware(None, KEY, session_cookie="session").session_cookie == "session"
    with pytest.raises(ValueError, match="prefix"):
        SessionMiddleware(None, KEY, session_cookie="__Host-s", path="/app")


@pytest.mark.parametrize(
    "option",
    [
        {"path": "/; Domain=evil.example"},
        {"path": "app"},
        {"domain": "example.com; Secure"},
        {"session_cookie": "a=b"},
        {"session_cookie": "s\u00e9"},
        {"session_cookie": "s\ud800"},
        {"same_site": "lax; Domain=x"},
        {"partitioned": True, "https_only": False},
        {"max_chunks": 17},
        {"renew_after": 60},
    ],
)
def test_attributes_that_would_inject_or_be_dropped_are_refused_at_start_up(option):
    with pytest.raises(ValueError):
        SessionMiddleware(None, KEY, **option)


def test_lone_surrogates_are_invalid_tokens_everywhere():
    s = TimedSerializer(KEY, "x", max_age=60)
    bad = "AQ\ud800"
    for call in (
        lambda: s.loads(bad),
        lambda: s.loads_with_meta(bad),
        lambda: s.loads_at(bad, time.time()),
        lambda: s.reissue(bad),
        lambda: itsclassified.untrusted_header(bad),
        lambda: SessionPolicy(s).open_session(bad),
        lambda: s.loads(b"\xff\xfe"),
    ):
        with pytest.raises(InvalidToken):
            call()


def test_a_cookie_header_with_a_lone_surrogate_is_an_empty_session_not_a_crash():
    policy = SessionPolicy(TimedSerializer(KEY, SALT, max_age=DAY))
    state = itsclassified.SessionState(policy, [f"{NAME}=\ud800; x=1", f"{NAME}={sealed({'a': 1})}"])
    state.load()
    assert state.value() == {"a": 1}


# --- lifetimes, renewal, chunks -----------------------------------------------------------------


def test_a_session_past_its_absolute_lifetime_is_refused_however_fresh_its_token(serve):
    server = serve(app_with(max_age=30 * DAY, absolute_lifetime=7 * DAY))
    assert request(server, "GET", "/me", f"{NAME}={sealed({'a': 1}, now=time.time() - 8 * DAY, max_age=30 * DAY)}").json() == {}
    assert request(server, "GET", "/me", f"{NAME}={sealed({'a': 1}, now=time.time() - 6 * DAY, max_age=30 * DAY)}").json() == {"a": 1}


def test_renewal_reissues_the_same_session_within_its_lifetime(serve):
    server = serve(app_with(max_age=DAY, renew_after=3600, absolute_lifetime=7 * DAY))
    started = int(time.time()) - 7200
    old = sealed({"user_id": "u1"}, now=started)
    _, session_id, start, _ = opened(old)
    r = request(server, "GET", "/me", f"{NAME}={old}")
    (line,) = r.headers.get_list("set-cookie")
    new = line.split(";", 1)[0].split("=", 1)[1]
    value, new_id, new_start, issued_at = opened(new)
    assert (value, new_id, new_start) == ({"user_id": "u1"}, session_id, start)
    assert issued_at >= int(time.time()) - 2
    # Max-Age never reaches past the absolute lifetime.
    assert f"Max-Age={DAY}" in line
    young = sealed({"user_id": "u1"})
    assert request(server, "GET", "/me", f"{NAME}={young}").headers.get_list("set-cookie") == []


def test_a_large_session_is_chunked_and_read_back_and_one_too_large_is_a_500(serve):
    server = serve(app_with(max_chunks=3))
    r = request(server, "POST", "/big?n=4000")
    names = [line.split("=", 1)[0] for line in r.headers.get_list("set-cookie")]
    assert names == [f"{NAME}.0", f"{NAME}.1"]
    assert request(server, "GET", "/me", jar(r)).json() == {"blob": "x" * 4000}
    r = request(server, "POST", "/big?n=20000")
    assert r.status_code == 500 and r.headers.get_list("set-cookie") == []


def test_partitioned_cookies(serve):
    server = serve(app_with(partitioned=True))
    (line,) = login(server).headers.get_list("set-cookie")
    assert line.endswith("; Partitioned")


# --- revocation ----------------------------------------------------------------------------------


def revocation_flow(server, tag: str = "") -> None:
    # Users of their own per run: two "log out everywhere" of one user within one second set
    # the same cutoff (whole seconds, SPEC.md 10.5), which a login between them is issued after.
    alice, bob = "alice" + tag, "bob" + tag
    r = login(server, alice)
    cookie = jar(r)
    assert request(server, "GET", "/me", cookie).json()["user_id"] == alice
    # Logout revokes the session id: a copy of the cookie saved before is refused.
    r = request(server, "POST", "/logout", cookie)
    assert r.status_code == 204
    assert any(line.startswith(f"{NAME}=;") for line in r.headers.get_list("set-cookie"))
    assert request(server, "GET", "/me", cookie).json() == {}
    # Log out everywhere: both sessions of bob are refused; a new login works right away.
    one, two = jar(login(server, bob)), jar(login(server, bob))
    assert request(server, "POST", "/logout-all", one).status_code == 204
    assert request(server, "GET", "/me", two).json() == {}
    three = jar(login(server, bob))
    assert request(server, "GET", "/me", three).json()["user_id"] == bob


def test_logout_and_logout_all_with_the_memory_store(serve):
    server = serve(app_with(revocation=MemoryStore(), subject=lambda s: s.get("user_id")))
    revocation_flow(server)


def test_logout_and_logout_all_with_redis_sync_and_async(serve, redis_server):
    for tag, store in (("-sync", RedisStore.from_url(redis_server.url)), ("-async", AsyncRedisStore.from_url(redis_server.url))):
        server = serve(app_with(revocation=store, subject=lambda s: s.get("user_id")))
        revocation_flow(server, tag)


def test_the_redis_layout_is_the_spec_s(redis_server):
    import redis

    store = RedisStore.from_url(redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    until = int(time.time()) + 100
    assert store.revoke_session("EBESExQVFhcYGRobHB0eHw", until) is True
    assert store.revoke_session("EBESExQVFhcYGRobHB0eHw", until - 50) is False
    assert client.get("itsclassified:revoked:i:EBESExQVFhcYGRobHB0eHw") == b"1"
    assert 99_000 < client.pttl("itsclassified:revoked:i:EBESExQVFhcYGRobHB0eHw") <= 101_000
    store.revoke_subject("123", until, 10)
    store.revoke_subject("123", until - 5, 10)  # an earlier cutoff never moves it back
    key = "itsclassified:revoked:s:jH0NPL0XzrSDuvbPxqPkTc4do2nWtgOkLTcMz0KcsAg"
    assert client.get(key) == str(until).encode()
    assert store.session_revoked("AAAAAAAAAAAAAAAAAAAAAA", until, "123") is True
    assert store.session_revoked("AAAAAAAAAAAAAAAAAAAAAA", until + 1, "123") is False
    assert store.subject_cutoff("123") == until
    client.set(key, "not-a-number")
    with pytest.raises(StoreUnavailable):
        store.subject_cutoff("123")


def test_a_dead_or_stalled_store_fails_closed_with_a_bounded_503(serve, redis_server):
    store = AsyncRedisStore.from_url(redis_server.url)
    server = serve(app_with(revocation=store, subject=lambda s: s.get("user_id")))
    cookie = jar(login(server, "carol"))
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        r = request(server, "GET", "/me", cookie)
        took = time.monotonic() - began
        assert r.status_code == 503 and r.headers["retry-after"] and r.headers.get_list("set-cookie") == []
        assert took < 2, took
        # After one timeout, at once: the breaker is open.
        began = time.monotonic()
        assert request(server, "GET", "/me", cookie).status_code == 503
        assert time.monotonic() - began < 0.2
        # A login (which looks up the cutoff) and a logout cannot be recorded either.
        r = request(server, "POST", "/login", json={"user_id": "dave", "role": "x"})
        assert r.status_code == 503 and r.headers.get_list("set-cookie") == []
        r = request(server, "POST", "/logout", cookie)
        assert r.status_code == 503 and r.headers.get_list("set-cookie") == []
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    # Back: the session is there again, untouched.
    deadline = time.monotonic() + 5
    while request(server, "GET", "/me", cookie).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert request(server, "GET", "/me", cookie).json()["user_id"] == "carol"


def test_a_store_that_is_down_is_503_not_an_empty_session(serve):
    with socket_free_port() as port:
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}")
    server = serve(app_with(revocation=store, subject=lambda s: s.get("user_id")))
    r = request(server, "GET", "/me", f"{NAME}={sealed({'user_id': 'x'})}")
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.headers.get_list("set-cookie") == []
    # A request without a session does not need the store.
    assert request(server, "GET", "/me").json() == {}


class socket_free_port:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_replace_keys_rotates_the_middleware_without_a_restart(serve):
    new = itsclassified.generate_key()
    serializer = TimedSerializer([KEY], SALT, max_age=DAY)
    server = serve(app_with(secret_key=serializer))
    cookie = jar(login(server))
    serializer.replace_keys([new, KEY])
    r = request(server, "GET", "/me", cookie)  # the old key still opens it, and it is re-sealed
    assert r.json()["user_id"] == "u1"
    resealed = jar(r)
    assert itsclassified.untrusted_header(resealed.split("=", 1)[1]).key_id == TimedSerializer(new, "x", max_age=1).key_ids[0]
    serializer.replace_keys([new])
    assert request(server, "GET", "/me", cookie).json() == {}
    assert request(server, "GET", "/me", resealed).json()["user_id"] == "u1"
    with pytest.raises(ValueError):
        serializer.replace_keys(["short"])
    assert request(server, "GET", "/me", resealed).json()["user_id"] == "u1"


def test_unencodable_payloads_keys_and_salts_are_value_errors_that_quote_nothing():
    s = TimedSerializer(KEY, "x", max_age=60)
    for call in (
        lambda: s.dumps({"name": "secret\ud800"}),
        lambda: TimedSerializer("secret-key\ud800" + "A" * 43, "x", max_age=60),
        lambda: TimedSerializer(KEY, "salt\ud800", max_age=60),
        lambda: SessionPolicy(s).seal_new_session({"a": "secret\ud800"}),
    ):
        with pytest.raises(ValueError) as caught:
            call()
        assert not isinstance(caught.value, UnicodeError)
        assert "secret" not in str(caught.value) and "\ud800" not in str(caught.value)


def test_reprs_show_no_key_and_no_session(redis_server):
    serializer = TimedSerializer(KEY, SALT, max_age=DAY)
    policy = SessionPolicy(serializer)
    token = policy.seal_new_session({"user_id": "secret-user"})
    state = itsclassified.SessionState(policy, [f"{NAME}={token}"])
    state.load()
    url = redis_server.url.replace("redis://", "redis://:hunter2@")
    texts = [repr(serializer), repr(policy), repr(state), repr(RedisStore.from_url(url)), repr(AsyncRedisStore.from_url(url)),
             repr(MemoryStore()), repr(SessionMiddleware(None, serializer))]
    for text in texts:
        assert KEY not in text and "secret-user" not in text and token not in text and "hunter2" not in text, text
