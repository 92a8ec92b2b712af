"""A Rust service (the crate's axum example) and a Python one (this package's middleware and
stores) on one real redis-server: they share sessions and bearer tokens, and a revocation made
by either is refused by both."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import httpx
import pytest
from fastapi import FastAPI, Request, Response

import itsclassified
from itsclassified import TimedSerializer
from itsclassified.revocation import RedisStore
from itsclassified.starlette import SessionMiddleware, logout

PREFIX = "itsclassified-example:"  # the axum example's prefix
KEY = itsclassified.generate_key()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rust(axum_api, redis_server):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSCLASSIFIED_")}
    env.update(PORT=str(port), ITSCLASSIFIED_KEYS=KEY, REDIS_URL=redis_server.url, ITSCLASSIFIED_INSECURE_COOKIES="1")
    proc = subprocess.Popen([axum_api], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "axum_api did not start"
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def python_app(store: RedisStore) -> FastAPI:
    app = FastAPI()
    cookies = TimedSerializer([KEY], "session-cookie", max_age=86400)
    app.add_middleware(
        SessionMiddleware, secret_key=cookies, https_only=False, max_chunks=3,
        renew_after=43200, absolute_lifetime=604800,
        revocation=store, subject=lambda s: s.get("user_id"),
    )

    @app.get("/session")
    async def session(request: Request):
        return dict(request.session) or Response(status_code=401)

    @app.post("/logout")
    async def do_logout(request: Request):
        await logout(request)
        return Response(status_code=204)

    return app


def jar(response: httpx.Response) -> str:
    pairs = [line.split(";", 1)[0] for line in response.headers.get_list("set-cookie")]
    return "; ".join(p for p in pairs if not p.endswith("="))


def test_rust_and_python_share_sessions_tokens_and_revocations(serve, rust, redis_server):
    store = RedisStore.from_url(redis_server.url, PREFIX)
    py = serve(python_app(store))
    bearer = TimedSerializer([KEY], "api-token", max_age=900)

    # A login on Rust is a session in Python, and its bearer token loads here.
    r = httpx.post(rust + "/login", json={"user_id": "u-1", "role": "member"})
    cookie, token = jar(r), r.json()["token"]
    assert httpx.get(py.url + "/session", headers={"cookie": cookie}).json() == {"user_id": "u-1", "role": "member"}
    _, meta = bearer.loads_with_meta(token)
    assert store.is_revoked(meta, "u-1") is False

    # A logout in Python is refused by Rust (the session id is revoked in the shared Redis).
    assert httpx.post(py.url + "/logout", headers={"cookie": cookie}).status_code == 204
    assert httpx.get(rust + "/session", headers={"cookie": cookie}).status_code == 401
    assert httpx.get(py.url + "/session", headers={"cookie": cookie}).status_code == 401

    # A logout on Rust (session and bearer token) is refused by Python.
    r = httpx.post(rust + "/login", json={"user_id": "u-2", "role": "member"})
    cookie, token = jar(r), r.json()["token"]
    assert httpx.post(rust + "/logout", headers={"cookie": cookie, "authorization": f"Bearer {token}"}).status_code == 204
    assert httpx.get(py.url + "/session", headers={"cookie": cookie}).status_code == 401
    _, meta = bearer.loads_with_meta(token)
    assert store.is_revoked(meta, "u-2") is True

    # "Log out everywhere" recorded by Python refuses Rust's token and session of that user.
    r = httpx.post(rust + "/login", json={"user_id": "u-3", "role": "member"})
    cookie, token = jar(r), r.json()["token"]
    store.revoke_subject_now("u-3", 86400 + 60)
    assert httpx.get(rust + "/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert httpx.get(rust + "/session", headers={"cookie": cookie}).status_code == 401
    # ... and a login right after it works on both (Rust reads the cutoff Python wrote).
    r = httpx.post(rust + "/login", json={"user_id": "u-3", "role": "member"})
    assert httpx.get(py.url + "/session", headers={"cookie": jar(r)}).json()["user_id"] == "u-3"


def test_a_chunked_rust_session_reads_in_python(serve, rust, redis_server):
    py = serve(python_app(RedisStore.from_url(redis_server.url, PREFIX)))
    r = httpx.post(rust + "/login", json={"user_id": "big", "role": "member"})
    r = httpx.put(rust + "/session", json={"role": "x" * 5000}, headers={"cookie": jar(r)})
    names = [line.split("=", 1)[0] for line in r.headers.get_list("set-cookie") if "Max-Age=0" not in line]
    assert names == ["session.0", "session.1"]
    assert httpx.get(py.url + "/session", headers={"cookie": jar(r)}).json() == {"user_id": "big", "role": "x" * 5000}
