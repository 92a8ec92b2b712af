"""A Flask service with both kinds of credentials: bearer tokens for API clients and an
encrypted cookie session for browsers. The Flask twin of ``examples/axum_api.rs``.

    pip install "./python[flask,redis]"
    python python/examples/flask_app.py
    ITSCLASSIFIED_KEYS_FILE=keys.txt REDIS_URL=redis://127.0.0.1:6379 python python/examples/flask_app.py

It follows the example contract every door of the project follows (shared/example-contract.md:
routes, environment, behaviour), and the repository's conformance suite
(``scripts/conformance.sh``) checks it alone and paired with the axum example through one Redis.
See ``fastapi_app.py`` for the environment; this file differs only in the framework: the
session is ``flask.session`` through :class:`itsclassified.flask.SessionInterface`, the store is
the sync :class:`~itsclassified.revocation.RedisStore`, and the server is werkzeug's threaded
server (a demo; behind a production WSGI server the app is the same).

``POST /login`` checks no password: it is a demo of the token plumbing, not of authentication.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import flask
from werkzeug.serving import make_server

import itsclassified
from itsclassified import BadToken, TimedSerializer, TokenExpired, TokenMeta
from itsclassified.flask import SessionInterface, SessionUnavailable, logout, logout_all
from itsclassified.revocation import MemoryStore, RedisStore, StoreUnavailable

log = logging.getLogger("flask_app")

REDIS_PREFIX = "itsclassified-example:"
BEARER_MAX_AGE = 15 * 60


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


def unavailable() -> flask.Response:
    """A 503 with Retry-After: the revocation store cannot answer. Never a 401."""
    return flask.Response(status=503, headers={"Retry-After": "1"})


def challenge(error: Optional[str], description: Optional[str] = None) -> flask.Response:
    """RFC 6750: 401 with a Bearer challenge (no error code when no token came)."""
    value = "Bearer"
    if error:
        value += f' error="{error}"'
        if description:
            value += f', error_description="{description}"'
    status = 400 if error == "invalid_request" else 401
    return flask.Response(status=status, headers={"WWW-Authenticate": value})


def as_user(value: Any) -> Optional[Dict[str, str]]:
    if not isinstance(value, dict):
        return None
    user_id, role = value.get("user_id"), value.get("role")
    if not isinstance(user_id, str) or not isinstance(role, str):
        return None
    return {"user_id": user_id, "role": role}


def build_app() -> Tuple[flask.Flask, List[TimedSerializer], Optional[str]]:
    keys, key_file = initial_keys()
    session_max_age = seconds("ITSCLASSIFIED_SESSION_MAX_AGE", 86_400)
    renew_after = seconds("ITSCLASSIFIED_SESSION_RENEW_AFTER", 43_200)
    absolute_lifetime = seconds("ITSCLASSIFIED_SESSION_ABSOLUTE_LIFETIME", 604_800)
    bearer_tokens = TimedSerializer(keys, "api-token", max_age=BEARER_MAX_AGE, leeway=60)
    cookies = TimedSerializer(keys, "session-cookie", max_age=session_max_age, leeway=60)
    retain = max(bearer_tokens.revocation_retention or 0, cookies.revocation_retention or 0)

    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        store: Any = RedisStore.from_url(redis_url, REDIS_PREFIX)
        log.info("revocations go to Redis (REDIS_URL)")
    else:
        store = MemoryStore()
        log.warning("REDIS_URL is not set: revocations are kept in this process only")

    insecure = os.environ.get("ITSCLASSIFIED_INSECURE_COOKIES") == "1"
    if insecure:
        log.warning(
            "ITSCLASSIFIED_INSECURE_COOKIES=1: the session cookie is sent over plain HTTP "
            "(no Secure attribute). For local development only."
        )

    app = flask.Flask("itsclassified-example")
    app.config.update(
        SESSION_COOKIE_NAME="session" if insecure else "__Host-session",
        SESSION_COOKIE_SECURE=not insecure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=session_max_age,
    )
    app.session_interface = SessionInterface(
        cookies,
        absolute_lifetime=absolute_lifetime,
        renew_after=renew_after,
        max_chunks=3,
        revocation=store,
        subject=lambda session: session.get("user_id"),
    )
    # The settings are checked now, not at the first request.
    app.session_interface.policy(app)

    def bearer() -> Tuple[Optional[Tuple[Dict[str, str], TokenMeta]], Optional[flask.Response]]:
        """The request's verified, unrevoked bearer token, or the response that refuses it."""
        values = flask.request.headers.getlist("Authorization")
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
        user = as_user(payload)
        if user is None:
            return None, challenge("invalid_token", "The access token is invalid")
        try:
            if store.is_revoked(meta, user["user_id"]):
                return None, challenge("invalid_token", "The access token is invalid")
        except StoreUnavailable:
            log.error("the revocation store cannot answer: 503 for a bearer token")
            return None, unavailable()
        return (user, meta), None

    @app.post("/login")
    def login():
        user = as_user(flask.request.get_json(silent=True))
        if user is None:
            return flask.Response(status=422)
        try:
            cutoff = store.subject_cutoff(user["user_id"])
        except StoreUnavailable:
            return unavailable()
        issued_at = int(time.time())
        if cutoff is not None:
            issued_at = max(issued_at, cutoff + 1)
        token = bearer_tokens.dumps_at(user, issued_at)
        flask.session.regenerate(user)
        return {"token": token}

    @app.get("/me")
    def me():
        found, refused = bearer()
        if refused is not None:
            return refused
        assert found is not None
        user, meta = found
        return {"user": user, "token_age_secs": meta.age}

    @app.get("/session")
    def get_session():
        user = as_user(dict(flask.session))
        if user is None:
            return flask.Response(status=401)
        return user

    @app.put("/session")
    def put_session():
        user = as_user(dict(flask.session))
        if user is None:
            return flask.Response(status=401)
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("role"), str):
            return flask.Response(status=422)
        flask.session["role"] = user["role"] = body["role"]
        return user

    @app.post("/logout")
    def do_logout():
        found, refused = bearer()
        if refused is not None and refused.status_code == 503:
            return refused
        try:
            if found is not None:
                store.revoke(found[1])
            logout()
        except StoreUnavailable:
            log.error("logout not recorded: the revocation store cannot answer")
            return unavailable()
        return flask.Response(status=204)

    @app.post("/logout-all")
    def do_logout_all():
        found, refused = bearer()
        if refused is not None and refused.status_code == 503:
            return refused
        if found is not None:
            user_id = found[0]["user_id"]
        else:
            session = as_user(dict(flask.session))
            if session is None:
                return flask.Response(status=401)
            user_id = session["user_id"]
        try:
            logout_all(user_id, retain)
        except StoreUnavailable:
            log.error("logout-all not recorded: the revocation store cannot answer")
            return unavailable()
        return flask.Response(status=204)

    @app.errorhandler(SessionUnavailable)
    def session_unavailable(_e: Exception):
        return unavailable()

    return app, [bearer_tokens, cookies], key_file


def install_sighup(serializers: List[TimedSerializer], key_file: Optional[str]) -> None:
    """SIGHUP re-reads the key file on a thread of its own and swaps the keys of both
    serializers; a file that does not load leaves the keys in force. One read at a time."""
    reading = threading.Lock()

    def reload() -> None:
        try:
            assert key_file is not None
            keys = read_key_file(key_file)
            for s in serializers:
                s.replace_keys(keys)
            log.info("SIGHUP: keys reloaded, key ids now %s", ", ".join(serializers[0].key_ids))
        except Exception as e:  # noqa: BLE001 - any failure keeps the keys in force
            log.error("SIGHUP: keys not reloaded, the keys in force stay: %s: %s", type(e).__name__, e)
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
    port = int(os.environ.get("PORT", "3000"))
    server = make_server("127.0.0.1", port, app, threaded=True)

    def on_term(_signum: int, _frame: Any) -> None:
        log.info("shutting down")
        # shutdown() waits for serve_forever to return: from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    log.info("listening on http://127.0.0.1:%d", port)
    server.serve_forever()


if __name__ == "__main__":
    main()
