"""A FastAPI service with both kinds of credentials: bearer tokens for API clients and an
encrypted cookie session for browsers. The Python twin of ``examples/axum_api.rs``.

    pip install "./python[starlette,redis]" uvicorn fastapi
    python python/examples/fastapi_app.py
    PORT=8080 ITSCLASSIFIED_KEYS=<key>,<old key> python python/examples/fastapi_app.py
    ITSCLASSIFIED_KEYS_FILE=keys.txt REDIS_URL=redis://127.0.0.1:6379 python python/examples/fastapi_app.py

It follows the example contract every door of the project follows (shared/example-contract.md:
routes, environment, behaviour), and the repository's conformance suite
(``scripts/conformance.sh``) checks it alone and paired with the axum example through one Redis:
a login on one is a session on the other, a logout on one is refused on the other.

Keys come from ``ITSCLASSIFIED_KEYS_FILE`` (one key a line, primary first, ``#`` comments),
else ``ITSCLASSIFIED_KEYS`` (comma-separated), else a key generated for this run. The key file
is read again on SIGHUP (``kill -HUP <pid>``) on a thread of its own, never on the request
path; a file that does not load leaves the keys in force. SIGTERM stops the server cleanly.

Sessions: ``ITSCLASSIFIED_SESSION_MAX_AGE`` (seconds, default 86400),
``ITSCLASSIFIED_SESSION_RENEW_AFTER`` (43200), ``ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME``
(604800); up to three cookies of 4096 bytes, a larger session is a 500.

Revocations are kept in this process, or with ``REDIS_URL`` in Redis (key prefix
``itsclassified-example:``), shared with every instance, Rust ones included. When the store
cannot answer, requests that need it get a 503 with ``Retry-After`` (never a 401) and no cookie.

The cookie is ``__Host-session`` (``Secure``); ``ITSCLASSIFIED_INSECURE_COOKIES=1`` drops
``Secure`` and names it ``session``, for plain-HTTP development only.

``POST /login`` checks no password: it is a demo of the token plumbing, not of authentication.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, cast

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

import itsclassified
from itsclassified import BadToken, TimedSerializer, TokenExpired, TokenMeta
from itsclassified.revocation import AsyncRedisStore, MemoryStore, StoreUnavailable
from itsclassified.starlette import Session, SessionMiddleware, logout, logout_all

log = logging.getLogger("fastapi_app")

REDIS_PREFIX = "itsclassified-example:"
BEARER_MAX_AGE = 15 * 60


class User(BaseModel):
    user_id: str
    role: str


class RoleChange(BaseModel):
    role: str


def seconds(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    text = text.strip()
    if not text.isdigit():
        sys.exit(f"{name} must be a whole number of seconds")
    return int(text)


def read_key_file(path: str) -> List[str]:
    """One key a line, primary first; blank lines and ``#`` comments skipped."""
    with open(path, encoding="utf-8") as f:
        keys = [line.strip() for line in f]
    keys = [k for k in keys if k and not k.startswith("#")]
    if not keys:
        raise ValueError("the key file holds no key")
    # Checked here, so that a bad file never reaches a serializer.
    for key in keys:
        TimedSerializer(key, "check", max_age=1)
    return keys


def initial_keys() -> Tuple[List[str], Optional[str]]:
    path = os.environ.get("ITSCLASSIFIED_KEYS_FILE")
    if path:
        return read_key_file(path), path
    env = os.environ.get("ITSCLASSIFIED_KEYS")
    if env:
        return [k.strip() for k in env.split(",") if k.strip()], None
    log.warning(
        "ITSCLASSIFIED_KEYS is not set: using a key generated for this run only "
        "(tokens and cookies issued now will not load after a restart)"
    )
    return [itsclassified.generate_key()], None


def unavailable() -> Response:
    """A 503 with Retry-After: the revocation store cannot answer. Never a 401, which would make
    the client throw away credentials that are fine."""
    return Response(status_code=503, headers={"retry-after": "1"})


def challenge(error: Optional[str], description: Optional[str] = None) -> Response:
    """RFC 6750: 401 with a Bearer challenge (no error code when no token came)."""
    value = "Bearer"
    if error:
        value += f' error="{error}"'
        if description:
            value += f', error_description="{description}"'
    status = 400 if error == "invalid_request" else 401
    return JSONResponse({"error": error or "unauthorized"}, status_code=status, headers={"www-authenticate": value})


class Bearer:
    """A verified bearer token: its user and metadata."""

    def __init__(self, user: Dict[str, str], meta: TokenMeta) -> None:
        self.user = user
        self.meta = meta


def build_app() -> Tuple[FastAPI, List[TimedSerializer], Optional[str]]:
    keys, key_file = initial_keys()
    session_max_age = seconds("ITSCLASSIFIED_SESSION_MAX_AGE", 86_400)
    renew_after = seconds("ITSCLASSIFIED_SESSION_RENEW_AFTER", 43_200)
    absolute_lifetime = seconds("ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME", 604_800)
    # One key ring, two purposes: the salts keep bearer tokens and cookies apart.
    bearer_tokens = TimedSerializer(keys, "api-token", max_age=BEARER_MAX_AGE, leeway=60)
    cookies = TimedSerializer(keys, "session-cookie", max_age=session_max_age, leeway=60)
    retain = max(bearer_tokens.revocation_retention or 0, cookies.revocation_retention or 0)

    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        store: Any = AsyncRedisStore.from_url(redis_url, REDIS_PREFIX)
        log.info("revocations go to Redis (REDIS_URL)")
    else:
        store = MemoryStore()
        log.warning("REDIS_URL is not set: revocations are kept in this process only")

    async def call(method: str, *args: Any) -> Any:
        fn = getattr(store, method)
        result = fn(*args)
        if hasattr(result, "__await__"):
            result = await result
        return result

    insecure = os.environ.get("ITSCLASSIFIED_INSECURE_COOKIES") == "1"
    if insecure:
        log.warning(
            "ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain HTTP "
            "(no Secure attribute). For local development only."
        )

    app = FastAPI(title="itsclassified example")
    app.add_middleware(
        SessionMiddleware,
        secret_key=cookies,
        max_age=session_max_age,
        https_only=not insecure,
        # Sliding expiry for active users, within an absolute lifetime.
        renew_after=renew_after,
        absolute_lifetime=absolute_lifetime,
        max_chunks=3,
        revocation=store,
        subject=lambda session: session.get("user_id"),
    )

    async def bearer(request: Request) -> Tuple[Optional[Bearer], Optional[Response]]:
        """The request's verified, unrevoked bearer token, or the response that refuses it."""
        values = request.headers.getlist("authorization")
        if not values:
            return None, challenge(None)
        if len(values) > 1:
            return None, challenge("invalid_request")
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer":
            return None, challenge(None)
        if not token or " " in token or "\t" in token or not token.isascii() or not token.isprintable():
            return None, challenge("invalid_request")
        try:
            payload, meta = bearer_tokens.loads_with_meta(token)
        except TokenExpired:
            return None, challenge("invalid_token", "The access token expired")
        except BadToken:
            return None, challenge("invalid_token", "The access token is invalid")
        try:
            user = User.model_validate(payload).model_dump()
        except Exception:
            return None, challenge("invalid_token", "The access token is invalid")
        try:
            if await call("is_revoked", meta, user["user_id"]):
                return None, challenge("invalid_token", "The access token is invalid")
        except StoreUnavailable:
            log.error("the revocation store cannot answer: 503 for a bearer token")
            return None, unavailable()
        return Bearer(user, meta), None

    @app.post("/login")
    async def login(request: Request, user: User):
        """Starts a new session (a new session id) and issues a bearer token, both after any
        "log out everywhere" cutoff of the user, so that logging in again right after it works."""
        value = user.model_dump()
        try:
            cutoff = await call("subject_cutoff", user.user_id)
        except StoreUnavailable:
            return unavailable()
        issued_at = int(time.time())
        if cutoff is not None:
            issued_at = max(issued_at, cutoff + 1)
        token = bearer_tokens.dumps_at(value, issued_at)
        # request.session is typed as a plain dict by Starlette; the middleware's is a Session.
        cast(Session, request.session).regenerate(value)
        return {"token": token}

    @app.get("/me")
    async def me(request: Request):
        found, refused = await bearer(request)
        if refused is not None:
            return refused
        assert found is not None
        return {"user": found.user, "token_age_secs": found.meta.age}

    def session_user(request: Request) -> Optional[Dict[str, Any]]:
        value = dict(request.session)
        try:
            return User.model_validate(value).model_dump() if value else None
        except Exception:
            return None

    @app.get("/session")
    async def get_session(request: Request):
        user = session_user(request)
        if user is None:
            return Response(status_code=401)
        return user

    @app.put("/session")
    async def put_session(request: Request, change: RoleChange):
        """Changes the session's role: the same session (same id, same start), a new cookie."""
        user = session_user(request)
        if user is None:
            return Response(status_code=401)
        request.session["role"] = change.role
        user["role"] = change.role
        return user

    @app.post("/logout")
    async def do_logout(request: Request):
        """Clears the session and revokes what was presented: the session id (every copy of its
        cookie) and the bearer token if a valid one came. A stale, revoked or malformed bearer
        token is ignored, so that it cannot stop the session from being cleared."""
        found, refused = await bearer(request)
        if refused is not None and refused.status_code == 503:
            return refused
        try:
            if found is not None:
                await call("revoke", found.meta)
            await logout(request)
        except StoreUnavailable:
            log.error("logout not recorded: the revocation store cannot answer")
            return unavailable()
        return Response(status_code=204)

    @app.post("/logout-all")
    async def do_logout_all(request: Request):
        """Refuses every bearer token and session of the caller issued up to now, on every
        instance sharing the store. Authenticated by a bearer token or the session."""
        found, refused = await bearer(request)
        if refused is not None and refused.status_code == 503:
            return refused
        if found is not None:
            user_id = found.user["user_id"]
        else:
            session = session_user(request)
            if session is None:
                return Response(status_code=401)
            user_id = session["user_id"]
        try:
            await logout_all(request, user_id, retain)
        except StoreUnavailable:
            log.error("logout-all not recorded: the revocation store cannot answer")
            return unavailable()
        return Response(status_code=204)

    return app, [bearer_tokens, cookies], key_file


def install_sighup(serializers: List[TimedSerializer], key_file: Optional[str]) -> None:
    """SIGHUP re-reads the key file on a thread of its own (a FIFO without a writer blocks that
    thread only) and swaps the keys of both serializers; a file that does not load leaves the
    keys in force. One read at a time."""
    reading = threading.Lock()

    def reload() -> None:
        try:
            assert key_file is not None
            keys = read_key_file(key_file)
            for s in serializers:
                s.replace_keys(keys)
            log.info("SIGHUP: keys reloaded, key ids now %s", ", ".join(serializers[0].key_ids))
        except Exception as e:  # noqa: BLE001 - any failure keeps the keys in force
            # The message never holds key material: OSError names the path, ValueError lengths.
            log.error("SIGHUP: keys not reloaded, the keys in force stay: %s", type(e).__name__ + ": " + str(e))
        finally:
            reading.release()

    def on_hangup(_signum: int, _frame: Any) -> None:
        if key_file is None:
            log.info("SIGHUP: nothing to reload (no ITSCLASSIFIED_KEYS_FILE)")
            return
        if not reading.acquire(blocking=False):
            log.error("SIGHUP: the previous read of the key file has not finished; the keys in force stay")
            return
        threading.Thread(target=reload, name="key-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_hangup)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app, serializers, key_file = build_app()
    except (OSError, ValueError) as e:
        sys.exit(f"cannot start: {type(e).__name__}: {e}")
    install_sighup(serializers, key_file)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # that was there before it: this one, so the exit status is 0 (a clean stop).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    port = int(os.environ.get("PORT", "3000"))
    log.info("listening on http://127.0.0.1:%d", port)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
