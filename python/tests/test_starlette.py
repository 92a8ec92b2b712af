"""The SessionMiddleware over a real uvicorn server on 127.0.0.1, with httpx as the client."""

from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie

import httpx
import itsdangerous
import pytest
from fastapi import FastAPI, Request, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

import itsclassified
from itsclassified import TimedSerializer
from itsclassified.starlette import SessionMiddleware

NAME = "__Host-session"  # the default name of a Secure cookie with Path=/ and no Domain
KEY = itsclassified.generate_key()
OLD_KEY = itsclassified.generate_key()
LEGACY_SECRET = "the-old-starlette-secret"
SUNSET = datetime.now(timezone.utc) + timedelta(days=30)


def app_with(**options) -> FastAPI:
    app = FastAPI()
    options.setdefault("secret_key", KEY)
    app.add_middleware(SessionMiddleware, **options)

    @app.post("/login")
    async def login(request: Request):
        request.session["user_id"] = "123"
        request.session["role"] = "admin"
        return {"ok": True}

    @app.get("/me")
    async def me(request: Request):
        return dict(request.session)

    @app.get("/public")
    async def public():
        return {"public": True}

    @app.post("/cart")
    async def cart(request: Request):
        request.session["cart"].append("apple")  # a nested change
        return {"ok": True}

    @app.post("/logout")
    async def logout(request: Request):
        request.session.clear()
        return {"ok": True}

    @app.post("/big")
    async def big(request: Request):
        request.session["blob"] = "x" * 4000
        return {"ok": True}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    return app


def sealed(value, key=KEY, now=None, max_age=60, salt="starlette-session") -> str:
    """A session cookie's value as the middleware (or a Rust service) writes it."""
    policy = itsclassified.SessionPolicy(TimedSerializer(key, salt, max_age=max_age))
    return policy.seal_new_session(value, now)


def opened(token: str, key=KEY, salt="starlette-session"):
    """(value, session_id, start, issued_at) of a session cookie's value."""
    return itsclassified.SessionPolicy(TimedSerializer(key, salt, max_age=60)).open_session(token)


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def cookie_value(line: str, name: str = NAME) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(line)
    return cookie[name].value


def attributes(line: str) -> set[str]:
    return {part.strip().lower() for part in line.split(";")[1:]}


def get(server, path: str, cookie: str | None = None, method: str = "GET", name: str = NAME) -> httpx.Response:
    headers = {"cookie": f"{name}={cookie}"} if cookie is not None else {}
    # Cookies by hand: httpx's jar would drop a Secure cookie over plain HTTP.
    return httpx.request(method, server.url + path, headers=headers, timeout=10)


def test_login_read_back_logout(serve):
    server = serve(app_with())
    r = get(server, "/login", method="POST")
    assert r.status_code == 200
    (line,) = set_cookies(r)
    token = cookie_value(line)
    assert {"httponly", "secure", "samesite=lax", "path=/", "max-age=1209600"} <= attributes(line)
    # Encrypted: a v1 token whose bytes do not show the session.
    header = itsclassified.untrusted_header(token)
    assert header.version == 1 and header.key_id == TimedSerializer(KEY, "x", max_age=1).key_ids[0]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"admin" not in raw and b"user_id" not in raw
    # The same token opens as a session (SPEC.md 10.1) with the same key and salt.
    assert opened(token)[0] == {"user_id": "123", "role": "admin"}

    r = get(server, "/me", token)
    assert r.json() == {"user_id": "123", "role": "admin"}
    assert set_cookies(r) == []  # read only: no Set-Cookie
    assert "cookie" in r.headers.get("vary", "").lower()

    r = get(server, "/public", token)
    assert set_cookies(r) == [] and "vary" not in r.headers

    r = get(server, "/logout", token, method="POST")
    (line,) = set_cookies(r)
    assert line.startswith(f"{NAME}=;")
    assert {"max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt", "secure", "path=/"} <= attributes(line)
    assert get(server, "/me").json() == {}


def test_bad_cookies_give_an_empty_session(serve):
    server = serve(app_with())
    good = cookie_value(set_cookies(get(server, "/login", method="POST"))[0])
    expired = sealed({"user_id": "1"}, now=time.time() - 15 * 86400)
    cases = {
        "tampered": good[:50] + ("A" if good[50] != "A" else "B") + good[51:],
        "garbage": "garbage",
        "other key": sealed({"user_id": "1"}, key=OLD_KEY),
        "other salt": sealed({"user_id": "1"}, salt="other"),
        "a plain token, no envelope": TimedSerializer(KEY, "starlette-session", max_age=60).dumps({"user_id": "1"}),
        "expired": expired,
        "not a dict": sealed([1, 2]),
        "legacy cookie, no legacy key": StarletteStyle(LEGACY_SECRET).cookie({"user_id": "1"}),
    }
    for name, cookie in cases.items():
        r = get(server, "/me", cookie)
        assert r.status_code == 200, name
        assert r.json() == {}, name
        assert set_cookies(r) == [], name


def test_nested_changes_are_saved(serve):
    server = serve(app_with())
    token = sealed({"cart": []})
    r = get(server, "/cart", token, method="POST")
    (line,) = set_cookies(r)
    assert get(server, "/me", cookie_value(line)).json() == {"cart": ["apple"]}


def test_options(serve):
    server = serve(app_with(https_only=False, max_age=3600, session_cookie="sid", path="/app", same_site="strict", domain="example.test"))
    (line,) = set_cookies(get(server, "/login", method="POST"))
    attrs = attributes(line)
    assert line.startswith("sid=")
    assert "secure" not in attrs
    assert {"httponly", "samesite=strict", "path=/app", "domain=example.test", "max-age=3600"} <= attrs
    with pytest.raises(ValueError, match="Secure"):
        SessionMiddleware(None, KEY, same_site="none", https_only=False)
    with pytest.raises(ValueError, match="must expire"):
        SessionMiddleware(None, KEY, max_age=None)
    with pytest.raises(ValueError):
        SessionMiddleware(None, KEY, same_site="sometimes")
    with pytest.raises(ValueError, match="legacy_secret_key") as caught:
        SessionMiddleware(None, "a-starlette-style-secret")  # not a 32-byte key
    assert "a-starlette-style-secret" not in str(caught.value)


def test_key_rotation_reissues_under_the_new_key(serve):
    server = serve(app_with(secret_key=[KEY, OLD_KEY]))
    old_token = sealed({"user_id": "7"}, key=OLD_KEY)
    r = get(server, "/me", old_token)
    assert r.json() == {"user_id": "7"}
    (line,) = set_cookies(r)
    new_token = cookie_value(line)
    assert itsclassified.untrusted_header(new_token).key_id == TimedSerializer(KEY, "x", max_age=1).key_ids[0]


def test_session_too_large_for_a_cookie_is_a_500_and_logged(serve, caplog):
    server = serve(app_with())
    with caplog.at_level(logging.ERROR):
        r = get(server, "/big", method="POST")
    assert r.status_code == 500
    assert set_cookies(r) == []
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "itsclassified.starlette"]
    assert any("max_chunks" in m for m in messages), messages


def test_websocket_reads_the_session(serve):
    from websockets.sync.client import connect

    server = serve(app_with())
    token = sealed({"user_id": "ws"})
    with connect(server.ws_url + "/ws", additional_headers={"cookie": f"{NAME}={token}"}, open_timeout=10) as ws:
        assert ws.recv(timeout=10) == '{"user_id":"ws"}'


# --- migration from Starlette's own SessionMiddleware -----------------------------------------


class StarletteStyle:
    """Cookies signed the way Starlette's SessionMiddleware signs them, for expired ones."""

    def __init__(self, secret: str, age: int = 0) -> None:
        outer = self

        class Signer(itsdangerous.TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - outer.age

        self.age = age
        self.signer = Signer(secret)

    def cookie(self, session: dict) -> str:
        import json

        return self.signer.sign(base64.b64encode(json.dumps(session).encode())).decode()


def real_starlette_cookie(serve) -> str:
    """A session cookie made by the real Starlette SessionMiddleware, served by uvicorn."""

    async def login(request):
        request.session["user_id"] = "legacy-42"
        request.session["role"] = "admin"
        return JSONResponse({"ok": True})

    old_app = Starlette(
        routes=[Route("/login", login, methods=["POST"])],
        middleware=[Middleware(StarletteSessionMiddleware, secret_key=LEGACY_SECRET)],
    )
    server = serve(old_app)
    (line,) = set_cookies(get(server, "/login", method="POST"))
    return cookie_value(line, "session")


def test_legacy_cookie_is_upgraded_once(serve):
    legacy = real_starlette_cookie(serve)
    assert "." in legacy  # itsdangerous: payload.timestamp.signature
    server = serve(app_with(legacy_secret_key=LEGACY_SECRET, legacy_until=SUNSET))
    r = get(server, "/me", legacy, name="session")
    assert r.json() == {"user_id": "legacy-42", "role": "admin"}
    line, dropped = set_cookies(r)
    upgraded = cookie_value(line)
    # Starlette's cookie is dropped by the browser.
    assert dropped.startswith("session=;") and "max-age=0" in attributes(dropped)
    assert itsclassified.untrusted_header(upgraded).version == 1
    # The new cookie reads, and is not re-issued again.
    r = get(server, "/me", upgraded)
    assert r.json() == {"user_id": "legacy-42", "role": "admin"}
    assert set_cookies(r) == []


def test_legacy_cookie_refused_when_expired_or_under_another_secret(serve):
    server = serve(app_with(legacy_secret_key=LEGACY_SECRET, legacy_until=SUNSET, max_age=3600))
    for cookie in (
        StarletteStyle(LEGACY_SECRET, age=3601).cookie({"user_id": "1"}),
        StarletteStyle("another-secret").cookie({"user_id": "1"}),
    ):
        r = get(server, "/me", cookie, name="session")
        assert r.status_code == 200 and r.json() == {} and set_cookies(r) == []
    r = get(server, "/me", StarletteStyle(LEGACY_SECRET, age=3500).cookie({"user_id": "1"}), name="session")
    assert r.json() == {"user_id": "1"}


def test_legacy_migration_needs_a_sunset_and_refuses_cookies_signed_after_it(serve):
    with pytest.raises(ValueError, match="legacy_until"):
        SessionMiddleware(None, KEY, legacy_secret_key=LEGACY_SECRET)
    with pytest.raises(ValueError, match="aware"):
        SessionMiddleware(None, KEY, legacy_secret_key=LEGACY_SECRET, legacy_until=datetime(2030, 1, 1))
    # The sunset was ten minutes ago: a cookie signed an hour ago migrates, one signed a minute
    # ago (by whoever still holds the old secret) does not.
    sunset = datetime.now(timezone.utc) - timedelta(minutes=10)
    server = serve(app_with(legacy_secret_key=LEGACY_SECRET, legacy_until=sunset))
    before = StarletteStyle(LEGACY_SECRET, age=3600).cookie({"user_id": "old"})
    after = StarletteStyle(LEGACY_SECRET, age=60).cookie({"user_id": "forged"})
    assert get(server, "/me", before, name="session").json() == {"user_id": "old"}
    r = get(server, "/me", after, name="session")
    assert r.json() == {} and set_cookies(r) == []


def test_a_legacy_cookie_of_the_same_name_is_replaced_in_place(serve):
    """With session_cookie="session" (Starlette's name kept), the encrypted cookie overwrites the
    Starlette one under the same name, and no removal line is needed."""
    legacy = StarletteStyle(LEGACY_SECRET).cookie({"user_id": "same"})
    server = serve(app_with(session_cookie="session", legacy_secret_key=LEGACY_SECRET, legacy_until=SUNSET))
    r = get(server, "/me", legacy, name="session")
    assert r.json() == {"user_id": "same"}
    (line,) = set_cookies(r)
    upgraded = cookie_value(line, "session")
    assert opened(upgraded)[0] == {"user_id": "same"}
    r = get(server, "/me", upgraded, name="session")
    assert r.json() == {"user_id": "same"} and set_cookies(r) == []
