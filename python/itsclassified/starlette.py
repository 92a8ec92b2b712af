"""An encrypted drop-in replacement for Starlette's (and FastAPI's) ``SessionMiddleware``.

Replace ``from starlette.middleware.sessions import SessionMiddleware`` with
``from itsclassified.starlette import SessionMiddleware``. The parameters are Starlette's, with
three differences:

- ``secret_key`` is an itsclassified key (``itsclassified.generate_key()``), or a list of keys,
  primary first, for rotation. Starlette's old secret goes to ``legacy_secret_key``.
- ``https_only`` defaults to ``True``: the cookie is ``Secure`` (sent over HTTPS only), unlike
  Starlette's default. Pass ``https_only=False`` for plain-HTTP development.
- The cookie is encrypted, not only signed: the client cannot read the session.

With ``legacy_secret_key`` set to the app's old Starlette secret, a cookie made by Starlette's
own ``SessionMiddleware`` (signed with itsdangerous, within ``max_age``) is accepted once and
re-issued encrypted on the same response, so switching does not log everybody out.
"""

from __future__ import annotations

import copy
import json
import logging
from base64 import b64decode
from datetime import timedelta
from typing import Any, Optional, Sequence, Tuple, Union

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from . import BadToken, TimedSerializer

__all__ = ["SessionMiddleware", "Session", "SessionTooLarge"]

logger = logging.getLogger("itsclassified.starlette")

#: Browsers drop a cookie whose Set-Cookie line (name, value and attributes) exceeds this.
MAX_COOKIE_LEN = 4096

#: How long a token stays valid when ``max_age=None`` makes the cookie a browser-session one.
BROWSER_SESSION_TOKEN_MAX_AGE = 14 * 24 * 3600


class SessionTooLarge(RuntimeError):
    """The session does not fit in one cookie: the response becomes a 500."""


class Session(dict):  # type: ignore[type-arg]
    """``request.session``: a dict that records whether it was read or changed (the same
    protocol as Starlette's own ``Session``, so ``request.session`` marks it accessed)."""

    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True
        self.modified = True

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

    def __ior__(self, other: Any) -> "Session":
        self.mark_modified()
        super().update(other)
        return self


def _key(key: Any) -> Union[str, bytes]:
    # Starlette's `Secret` (and anything else) is taken as its str, as Starlette does.
    return key if isinstance(key, (str, bytes)) else str(key)


class SessionMiddleware:
    """Encrypted cookie sessions for Starlette and FastAPI; see the module's documentation."""

    def __init__(
        self,
        app: Any,
        secret_key: Union[str, bytes, Sequence[Union[str, bytes]]],
        session_cookie: str = "session",
        max_age: Optional[int] = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: str = "lax",
        https_only: bool = True,
        domain: Optional[str] = None,
        partitioned: bool = False,
        *,
        salt: Union[str, bytes] = "starlette-session",
        legacy_secret_key: Any = None,
    ) -> None:
        self.app = app
        keys = [_key(k) for k in secret_key] if isinstance(secret_key, (list, tuple)) else [_key(secret_key)]
        if same_site.lower() not in ("lax", "strict", "none"):
            raise ValueError('same_site must be "lax", "strict" or "none"')
        if same_site.lower() == "none" and not https_only:
            raise ValueError('same_site="none" needs https_only=True: browsers refuse it without Secure')
        token_max_age = BROWSER_SESSION_TOKEN_MAX_AGE if max_age is None else max_age
        # The cookie-length check below, not max_token_len, bounds what is issued: a session
        # too large for a cookie is a clear SessionTooLarge, not a generic ValueError.
        try:
            self.serializer = TimedSerializer(keys, salt, max_age=token_max_age, max_token_len=65536)
        except ValueError as e:
            # The crate's text names lengths only, never the key.
            raise ValueError(
                f"secret_key: {e}. It must be an itsclassified key (itsclassified.generate_key()); "
                "an old Starlette secret goes to legacy_secret_key"
            ) from None
        self.session_cookie = session_cookie
        self.max_age = max_age
        self.path = path
        flags = "httponly; samesite=" + same_site
        if https_only:
            flags += "; secure"
        if domain is not None:
            flags += f"; domain={domain}"
        if partitioned:
            flags += "; partitioned"
        self.security_flags = flags
        self.legacy_signer = None
        self.legacy_max_age = token_max_age
        if legacy_secret_key is not None:
            import itsdangerous  # only needed for the migration

            self.legacy_signer = itsdangerous.TimestampSigner(str(legacy_secret_key))

    def _load(self, cookie: str) -> Tuple[Session, bool]:
        """The session of a cookie, and whether it must be re-issued (a legacy cookie, or one
        made under a fallback key). A cookie that does not load gives an empty session."""
        try:
            payload, meta = self.serializer.loads_with_meta(cookie)
        except BadToken:
            return self._load_legacy(cookie)
        if not isinstance(payload, dict):
            return Session(), False
        return Session(payload), not meta.is_primary

    def _load_legacy(self, cookie: str) -> Tuple[Session, bool]:
        if self.legacy_signer is None:
            return Session(), False
        import itsdangerous

        try:
            data = self.legacy_signer.unsign(cookie.encode("utf-8"), max_age=self.legacy_max_age)
            payload = json.loads(b64decode(data))
        except (itsdangerous.BadSignature, ValueError, UnicodeError):
            return Session(), False
        if not isinstance(payload, dict):
            return Session(), False
        return Session(payload), True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        connection = HTTPConnection(scope)
        cookie = connection.cookies.get(self.session_cookie)
        reissue = False
        if cookie is not None:
            session, reissue = self._load(cookie)
        else:
            session = Session()
        had_cookie_session = bool(session) or reissue
        # Nested changes (session["cart"].append(...)) do not go through Session's methods:
        # compare with a copy of what was loaded.
        original = copy.deepcopy(dict(session)) if session else None
        scope["session"] = session

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                current = scope["session"]
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                accessed = getattr(current, "accessed", True)
                modified = getattr(current, "modified", True) or reissue
                if not modified and original is not None and dict(current) != original:
                    modified = True
                if accessed or modified:
                    headers.add_vary_header("Cookie")
                if modified and current:
                    headers.append("Set-Cookie", self._set_cookie(current))
                elif modified and had_cookie_session:
                    headers.append(
                        "Set-Cookie",
                        f"{self.session_cookie}=null; path={self.path}; "
                        f"expires=Thu, 01 Jan 1970 00:00:00 GMT; max-age=0; {self.security_flags}",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _set_cookie(self, session: Any) -> str:
        token = self.serializer.dumps(dict(session))
        max_age = f"Max-Age={self.max_age}; " if self.max_age is not None else ""
        line = f"{self.session_cookie}={token}; path={self.path}; {max_age}{self.security_flags}"
        if len(line) > MAX_COOKIE_LEN:
            message = (
                f"the session cookie would be {len(line)} bytes, over the {MAX_COOKIE_LEN} bytes "
                "browsers keep: store less in request.session (an id, and the data server-side)"
            )
            logger.error(message)
            # Raised before the response starts: the server answers 500 and logs it.
            raise SessionTooLarge(message)
        return line
