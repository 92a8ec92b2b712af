"""An encrypted drop-in replacement for Starlette's (and FastAPI's) ``SessionMiddleware``, on
the session core of the Rust crate (SPEC.md section 10).

Replace ``from starlette.middleware.sessions import SessionMiddleware`` with
``from itsclassified.starlette import SessionMiddleware``. ``request.session`` is a dict, as
before. The parameters are Starlette's, with these differences:

- ``secret_key`` is an itsclassified key (``itsclassified.generate_key()``), a list of keys
  (primary first, for rotation), or a :class:`~itsclassified.TimedSerializer` (whose
  ``replace_keys`` then rotates the middleware's keys at run time too; its own ``max_age``,
  ``leeway`` and salt then apply, and ``max_age``/``salt``/``leeway`` here are not used).
- ``https_only`` defaults to ``True``, and the cookie's default name is then ``__Host-session``
  (a prefix that stops sibling subdomains from planting or overwriting it); pass
  ``session_cookie`` to keep another name. With ``https_only=False`` the default is
  ``session``.
- The cookie is encrypted, not only signed; name, path and domain are validated once, at
  start-up (nothing a setting holds can inject a cookie attribute).
- New: ``absolute_lifetime`` (seconds: a session older than this is refused however often it
  was renewed), ``renew_after`` (sliding renewal; needs ``absolute_lifetime``), ``max_chunks``
  (how many cookies of 4096 bytes a session may take), ``partitioned`` (CHIPS),
  ``revocation`` (a store of :mod:`itsclassified.revocation`: logout that sticks, and "log out
  everywhere" for the subject that ``subject`` derives from the session).

Which cookie is the session, renewal, chunks, the absolute lifetime, ``Cache-Control: private``
and ``Vary: Cookie``, and the keep / issue / remove decision all come from the crate: a Rust
service and this middleware with the same keys and salt share sessions.

When the revocation store cannot answer for a request's session, the session can be neither
read nor written: touching ``request.session`` raises :class:`StoreUnavailable`, which this
middleware turns into a ``503`` with ``Retry-After`` and no ``Set-Cookie`` (never a 401).

Migration from Starlette's own signed cookie: ``legacy_secret_key`` (the old secret) and
``legacy_until`` (an aware datetime, required): a Starlette cookie signed up to that moment is
accepted once and re-issued encrypted; one signed later is refused, so whoever holds the old
secret cannot mint sessions after the sunset.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from base64 import b64decode
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from . import TimedSerializer, _seconds
from ._itsclassified import SessionPolicy, SessionState, SessionTooLarge
from .revocation import MemoryStore, StoreUnavailable

__all__ = ["SessionMiddleware", "Session", "SessionTooLarge", "StoreUnavailable", "logout", "logout_all"]

logger = logging.getLogger("itsclassified.starlette")

#: The ASGI scope key under which the middleware keeps the request's session machinery.
SCOPE_KEY = "itsclassified.session"


class Session(dict):  # type: ignore[type-arg]
    """``request.session``: a dict that records whether it was read or changed (the same
    protocol as Starlette's own ``Session``, so ``request.session`` marks it accessed)."""

    accessed: bool = False
    modified: bool = False
    regenerated: bool = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True
        self.modified = True

    def regenerate(self, data: Optional[Dict[str, Any]] = None) -> None:
        """Ends the current session and starts a new one (a new session id) holding ``data``:
        call it at login, so that a session id planted before the login is never the user's."""
        super().clear()
        if data:
            super().update(data)
        self.regenerated = True
        self.mark_modified()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def clear(self) -> None:
        self.mark_modified()
        super().clear()

    def pop(self, key: Any, *args: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *args)

    def popitem(self) -> Tuple[Any, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> "Session":  # type: ignore[misc]  # dict's own is narrower
        self.mark_modified()
        super().update(other)
        return self


def _unavailable(*_: Any, **__: Any) -> Any:
    raise StoreUnavailable("the revocation store cannot answer for this session")


class UnavailableSession(Session):
    """The session of a request whose revocation check could not be made: every use raises
    :class:`StoreUnavailable` (the middleware answers 503), so a handler never mistakes it for
    an empty session (and redirects to a login) nor replaces it."""

    __getitem__ = __setitem__ = __delitem__ = __contains__ = __iter__ = __len__ = _unavailable
    get = keys = values = items = copy = clear = pop = popitem = setdefault = update = _unavailable
    regenerate = __ior__ = _unavailable

    def __bool__(self) -> bool:
        _unavailable()
        return False

    def __repr__(self) -> str:
        return "UnavailableSession()"


def _keys(secret_key: Any) -> List[Union[str, bytes]]:
    keys = list(secret_key) if isinstance(secret_key, (list, tuple)) else [secret_key]
    # Starlette's `Secret` (and anything else) is taken as its str, as Starlette does.
    return [k if isinstance(k, (str, bytes)) else str(k) for k in keys]


async def _call(store: Any, method: str, *args: Any, timeout: float) -> Any:
    """A store method, bounded by ``timeout``: awaited for an async store, called directly for
    the in-memory one, in a worker thread for a sync one (a sync Redis client never blocks the
    event loop)."""
    fn = getattr(store, method)
    try:
        if inspect.iscoroutinefunction(fn):
            return await asyncio.wait_for(fn(*args), timeout)
        if isinstance(store, MemoryStore):
            return fn(*args)
        import anyio.to_thread

        return await asyncio.wait_for(anyio.to_thread.run_sync(fn, *args), timeout)
    except asyncio.TimeoutError:
        raise StoreUnavailable("the revocation store did not answer in time") from None


class _Handle:
    """What the middleware keeps in the scope for one request: its core session state."""

    def __init__(self, middleware: "SessionMiddleware", state: SessionState) -> None:
        self.middleware = middleware
        self.state = state


class SessionMiddleware:
    """Encrypted cookie sessions for Starlette and FastAPI; see the module's documentation."""

    def __init__(
        self,
        app: Any,
        secret_key: Union[str, bytes, Sequence[Union[str, bytes]], TimedSerializer],
        session_cookie: Optional[str] = None,
        max_age: Union[int, timedelta] = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: str = "lax",
        https_only: bool = True,
        domain: Optional[str] = None,
        partitioned: bool = False,
        *,
        absolute_lifetime: Union[int, timedelta, None] = None,
        renew_after: Union[int, timedelta, None] = None,
        max_chunks: int = 1,
        revocation: Any = None,
        subject: Optional[Callable[[Dict[str, Any]], Optional[str]]] = None,
        revocation_timeout: float = 0.25,
        salt: Union[str, bytes] = "starlette-session",
        leeway: Union[int, timedelta] = 60,
        legacy_secret_key: Any = None,
        legacy_until: Optional[datetime] = None,
        legacy_cookie: str = "session",
    ) -> None:
        self.app = app
        if max_age is None:
            raise ValueError(
                "max_age=None (a browser-session cookie) is not supported: session tokens must "
                "expire. Pass seconds; the cookie's Max-Age follows them"
            )
        if isinstance(secret_key, TimedSerializer):
            self.serializer = secret_key
        else:
            try:
                self.serializer = TimedSerializer(_keys(secret_key), salt, max_age=max_age, leeway=leeway)
            except ValueError as e:
                # The crate's text names lengths only, never the key.
                raise ValueError(
                    f"secret_key: {e}. It must be an itsclassified key (itsclassified.generate_key()); "
                    "an old Starlette secret goes to legacy_secret_key"
                ) from None

        def whole(value: Any, what: str) -> Optional[int]:
            return None if value is None else int(_seconds(value, what))

        self.policy = SessionPolicy(
            self.serializer,
            cookie_name=session_cookie,
            path=path,
            domain=domain,
            same_site=same_site,
            secure=https_only,
            partitioned=partitioned,
            renew_after=whole(renew_after, "renew_after"),
            absolute_lifetime=whole(absolute_lifetime, "absolute_lifetime"),
            max_chunks=max_chunks,
        )
        self.session_cookie = self.policy.cookie_name
        self.revocation = revocation
        self.subject = subject
        self.revocation_timeout = revocation_timeout
        self.legacy_signer = None
        self.legacy_until: Optional[float] = None
        self.legacy_cookie = legacy_cookie
        self.legacy_max_age = int(_seconds(max_age, "max_age"))
        self.path = path
        if legacy_secret_key is not None:
            if legacy_until is None:
                raise ValueError(
                    "legacy_secret_key needs legacy_until (an aware datetime): the sunset after which "
                    "cookies signed with the old secret are refused"
                )
            if not isinstance(legacy_until, datetime) or legacy_until.utcoffset() is None:
                raise ValueError("legacy_until must be an aware datetime")
            import itsdangerous  # only needed for the migration

            self.legacy_signer = itsdangerous.TimestampSigner(str(legacy_secret_key))
            self.legacy_until = legacy_until.timestamp()

    def _subject(self, value: Any) -> Optional[str]:
        if self.subject is None or not isinstance(value, dict):
            return None
        subject = self.subject(value)
        return None if subject is None else str(subject)

    def _load_legacy(self, connection: HTTPConnection) -> Optional[Dict[str, Any]]:
        """The session of a Starlette-made cookie signed up to ``legacy_until``, or None."""
        if self.legacy_signer is None or self.legacy_until is None:
            return None
        cookie = connection.cookies.get(self.legacy_cookie)
        if not cookie:
            return None
        import itsdangerous

        try:
            data, signed_at = self.legacy_signer.unsign(
                cookie.encode("utf-8"), max_age=self.legacy_max_age, return_timestamp=True
            )
            if signed_at.timestamp() > self.legacy_until:
                return None
            payload = json.loads(b64decode(data))
        except (itsdangerous.BadSignature, ValueError, UnicodeError):
            return None
        return payload if isinstance(payload, dict) else None

    async def _check(self, state: SessionState) -> None:
        """Asks the store about the loaded session (SPEC.md 10.5) and feeds the answer back."""
        check = state.pending_check()
        if check is None:
            return
        if self.revocation is None:
            state.resolve("admitted")
            return
        session_id, issued_at = check
        subject = self._subject(state.value())
        try:
            revoked = await _call(
                self.revocation, "session_revoked", session_id, issued_at, subject,
                timeout=self.revocation_timeout,
            )
        except StoreUnavailable:
            logger.error("the revocation store cannot answer: the session is neither read nor written")
            state.resolve("unavailable")
            return
        state.resolve("revoked" if revoked else "admitted")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        connection = HTTPConnection(scope)
        cookie_headers = [value for name, value in scope["headers"] if name == b"cookie"]
        state = SessionState(self.policy, cookie_headers)
        state.load()
        await self._check(state)
        handle = _Handle(self, state)
        scope[SCOPE_KEY] = handle

        legacy = False
        if state.unavailable:
            session: Session = UnavailableSession()
            original = None
        else:
            value = state.value()
            if value is None:
                migrated = self._load_legacy(connection)
                if migrated is not None:
                    value, legacy = migrated, True
            session = Session(value if isinstance(value, dict) else {})
            # Nested changes (session["cart"].append(...)) do not go through Session's methods:
            # compare with a copy of what was loaded.
            original = copy.deepcopy(dict(session)) if session else None
        had_session = state.session_id is not None or legacy
        scope["session"] = session
        started = False
        replaced = False

        async def replace(status: int, headers: List[Tuple[bytes, bytes]]) -> None:
            nonlocal replaced
            replaced = True
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})

        async def send_wrapper(message: Any) -> None:
            nonlocal started
            if replaced:
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            started = True
            status = message["status"]
            current = scope["session"]
            if isinstance(current, UnavailableSession):
                pass
            elif isinstance(current, Session) or isinstance(current, dict):
                accessed = getattr(current, "accessed", True)
                modified = getattr(current, "modified", True) or legacy
                if not modified and original is not None and dict(current) != original:
                    modified = True
                if accessed or modified:
                    state.mark_extracted()
                if getattr(current, "regenerated", False):
                    state.clear()
                    if current:
                        state.set(dict(current))
                elif modified:
                    if current:
                        state.set(dict(current))
                    elif had_session:
                        state.clear()
            cutoff = None
            if self.revocation is not None and state.starts_session(status):
                subject = self._subject(dict(current))
                if subject is not None:
                    try:
                        cutoff = await _call(
                            self.revocation, "subject_cutoff", subject, timeout=self.revocation_timeout
                        )
                    except StoreUnavailable:
                        logger.error("the revocation store cannot answer: no session started")
                        await replace(503, [(b"retry-after", b"1"), (b"content-length", b"0")])
                        return
            headers = MutableHeaders(scope=message)
            try:
                lines, cache_control, vary = state.finish(status, headers.getlist("cache-control"), cutoff)
            except SessionTooLarge as e:
                logger.error("%s", e)
                await replace(500, [(b"content-length", b"0")])
                return
            if cache_control is not None:
                del headers["cache-control"]
                headers["cache-control"] = cache_control
            if vary:
                headers.add_vary_header("Cookie")
            for line in lines:
                headers.append("set-cookie", line)
            if legacy and lines and self.legacy_cookie != self.session_cookie:
                # The migrated Starlette cookie is dropped by the browser.
                headers.append(
                    "set-cookie",
                    f"{self.legacy_cookie}=; Path={self.path}; Max-Age=0; "
                    "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                )
            await send(message)

        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send_wrapper)
        except StoreUnavailable:
            if started:
                raise
            logger.error("the revocation store cannot answer: 503")
            await replace(503, [(b"retry-after", b"1"), (b"content-length", b"0")])


def _handle(request: HTTPConnection) -> _Handle:
    handle = request.scope.get(SCOPE_KEY)
    if not isinstance(handle, _Handle):
        raise RuntimeError("itsclassified.starlette.SessionMiddleware is not installed")
    return handle


async def logout(request: HTTPConnection) -> None:
    """Clears the session and revokes its id in the middleware's store, so that every copy of
    the cookie (also one saved before a renewal or a change) is refused from now on.

    Raises :class:`StoreUnavailable` when the revocation cannot be recorded: answer 503 (the
    middleware does so if it reaches it); the response then removes no cookie, so the user sees
    the failure rather than a logout that did not stick."""
    handle = _handle(request)
    state, middleware = handle.state, handle.middleware
    revocation = state.revocation()
    if revocation is not None and middleware.revocation is not None:
        session_id, until = revocation
        try:
            await _call(
                middleware.revocation, "revoke_session", session_id, until,
                timeout=middleware.revocation_timeout,
            )
        except StoreUnavailable:
            state.revocation_failed()
            raise
    session = Session()
    session.regenerate()
    request.scope["session"] = session
    state.clear()


async def logout_all(request: HTTPConnection, subject: str, retain: Optional[int] = None) -> None:
    """"Log out everywhere" for ``subject``: every token and session of it issued up to now is
    refused, on every instance sharing the store; the request's session is cleared.

    ``retain``: how long the cutoff is kept, seconds: the longest ``max_age + leeway`` of the
    tokens checked against the store (``TimedSerializer.revocation_retention``); by default the
    session's. Raises :class:`StoreUnavailable` when it cannot be recorded."""
    handle = _handle(request)
    middleware = handle.middleware
    if middleware.revocation is None:
        raise RuntimeError("logout_all needs the middleware's revocation store")
    if retain is None:
        retain = middleware.policy.retention
    await _call(middleware.revocation, "revoke_subject_now", subject, retain, timeout=middleware.revocation_timeout)
    session = Session()
    session.regenerate()
    request.scope["session"] = session
    handle.state.clear()
