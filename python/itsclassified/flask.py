"""Encrypted cookie sessions for Flask, on the session core of the Rust crate (SPEC.md section 10).

    from flask import Flask
    from itsclassified.flask import SessionInterface

    app = Flask(__name__)
    app.session_interface = SessionInterface(keys=[itsclassified.generate_key()])

``flask.session`` behaves as before (a dict with ``.permanent``, ``.modified``, ``.accessed``);
the cookie is encrypted (XChaCha20-Poly1305), not only signed, and a Rust service with the same
keys and salt reads it. Flask's settings are read from ``app.config``:

- ``SESSION_COOKIE_NAME``, ``_DOMAIN``, ``_PATH``, ``_SECURE``, ``_SAMESITE`` (``None``, Flask's
  default, is written as ``Lax``), ``_PARTITIONED``; ``HttpOnly`` is always set. Name, path and
  domain are validated (nothing in them can inject a cookie attribute); a ``__Host-`` name needs
  ``Secure``, ``Path=/`` and no domain.
- ``PERMANENT_SESSION_LIFETIME`` is the session token's lifetime and the cookie's ``Max-Age``.
  Every session cookie carries it, ``permanent`` or not: a session token must expire.
- ``SESSION_REFRESH_EACH_REQUEST`` (Flask's default ``True``) is renewal: with an
  ``absolute_lifetime``, the session cookie is re-issued (same session; permanent or not) once it is
  ``renew_after`` seconds old (default: on every request, as Flask does); without one, renewal
  would keep a stolen cookie alive forever, so nothing is renewed.

Revocation (``revocation=`` a store of :mod:`itsclassified.revocation`, sync): :func:`logout`
revokes the session id, :func:`logout_all` a subject's sessions and tokens; a revoked session is
empty; when the store cannot answer, touching the session raises :class:`SessionUnavailable`, a
503 with ``Retry-After`` (never a 401), and no cookie is written.

Migration from Flask's own signed cookie (itsdangerous, salt ``cookie-session``, HMAC-SHA1,
tagged JSON): with ``legacy_until`` (an aware datetime), a Flask cookie signed with
``SECRET_KEY`` or one of ``SECRET_KEY_FALLBACKS`` up to that moment (and within
``PERMANENT_SESSION_LIFETIME``) is read once and re-issued encrypted; one signed later is
refused, so whoever holds the old secret cannot mint sessions after the sunset.
"""

from __future__ import annotations

import copy
import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Union

import flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.sessions import SessionInterface as _FlaskSessionInterface
from werkzeug.exceptions import ServiceUnavailable

from . import TimedSerializer, _seconds
from ._itsclassified import SessionPolicy, SessionState, SessionTooLarge
from .revocation import StoreUnavailable

__all__ = ["SessionInterface", "Session", "SessionUnavailable", "SessionTooLarge", "logout", "logout_all"]

logger = logging.getLogger("itsclassified.flask")


class SessionUnavailable(StoreUnavailable, ServiceUnavailable):
    """The revocation store cannot answer for this request's session: a 503 with
    ``Retry-After`` (Flask renders it as any HTTP error), never a 401."""

    def __init__(self, description: Optional[str] = None) -> None:
        StoreUnavailable.__init__(self, description or "the revocation store cannot answer")
        ServiceUnavailable.__init__(self, description=description, retry_after=1)


class Session(SecureCookieSession):
    """``flask.session``: Flask's ``SecureCookieSession`` (``modified``, ``accessed``,
    ``permanent``), backed by the crate's session state."""

    def regenerate(self, data: Optional[Dict[str, Any]] = None) -> None:
        """Ends the current session and starts a new one (a new session id) holding ``data``:
        call it at login, so that a session id planted before the login is never the user's."""
        self.clear()
        if data:
            self.update(data)
        self._itsclassified_regenerated = True


class UnavailableSession(Session):
    """The session of a request whose revocation check could not be made: any use raises
    :class:`SessionUnavailable` (503), so it is never taken for an empty session nor replaced."""

    def _unavailable(self, *args: Any, **kwargs: Any) -> Any:
        raise SessionUnavailable()

    __getitem__ = __setitem__ = __delitem__ = __contains__ = __iter__ = __len__ = _unavailable
    get = keys = values = items = clear = pop = popitem = setdefault = update = regenerate = _unavailable

    def __bool__(self) -> bool:
        raise SessionUnavailable()


def _keys(keys: Any) -> List[Union[str, bytes]]:
    keys = list(keys) if isinstance(keys, (list, tuple)) else [keys]
    return [k if isinstance(k, (str, bytes)) else str(k) for k in keys]


def _plain(value: Any) -> Any:
    """A value of Flask's tagged JSON as a token can hold it: datetimes become ISO 8601 text,
    UUIDs and Markup their text, tuples lists (as tagged JSON's own round trip of them does not
    matter to a dict lookup). Everything else is as it was."""
    import uuid

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "__html__") and isinstance(value, str):
        return str(value)
    return value


class SessionInterface(_FlaskSessionInterface):
    """Encrypted Flask sessions on the crate's session core; see the module's documentation.

    ``keys``: an itsclassified key, a list (primary first), or a :class:`TimedSerializer` (whose
    ``replace_keys`` then rotates the sessions' keys at run time); ``None`` reads the list from
    ``app.config["ITSCLASSIFIED_KEYS"]``. ``salt``: the sessions' purpose (a Rust service must
    use the same to share them)."""

    def __init__(
        self,
        keys: Any = None,
        *,
        salt: Union[str, bytes] = "flask-session",
        leeway: Union[int, timedelta] = 60,
        absolute_lifetime: Union[int, timedelta, None] = None,
        renew_after: Union[int, timedelta, None] = None,
        max_chunks: int = 1,
        revocation: Any = None,
        subject: Optional[Any] = None,
        legacy_until: Optional[datetime] = None,
    ) -> None:
        if legacy_until is not None and (not isinstance(legacy_until, datetime) or legacy_until.utcoffset() is None):
            raise ValueError("legacy_until must be an aware datetime")
        self.keys = keys
        self.salt = salt
        self.leeway = leeway
        self.absolute_lifetime = None if absolute_lifetime is None else int(_seconds(absolute_lifetime, "absolute_lifetime"))
        self.renew_after = None if renew_after is None else int(_seconds(renew_after, "renew_after"))
        self.max_chunks = max_chunks
        self.revocation = revocation
        self.subject = subject
        self.legacy_until = None if legacy_until is None else legacy_until.timestamp()
        self._policies: Dict[int, SessionPolicy] = {}
        self._lock = threading.Lock()

    # -- the policy, from the app's config (read once per app) ---------------------------------

    def policy(self, app: flask.Flask) -> SessionPolicy:
        """The session policy of ``app``, made from its config at its first request."""
        policy = self._policies.get(id(app))
        if policy is None:
            with self._lock:
                policy = self._policies.get(id(app))
                if policy is None:
                    policy = self._policies[id(app)] = self._make_policy(app)
        return policy

    def _make_policy(self, app: flask.Flask) -> SessionPolicy:
        lifetime = int(app.permanent_session_lifetime.total_seconds())
        keys = self.keys if self.keys is not None else app.config.get("ITSCLASSIFIED_KEYS")
        if keys is None:
            raise RuntimeError("itsclassified.flask.SessionInterface needs keys (or app.config['ITSCLASSIFIED_KEYS'])")
        if isinstance(keys, TimedSerializer):
            serializer = keys
        else:
            serializer = TimedSerializer(_keys(keys), self.salt, max_age=lifetime, leeway=self.leeway)
        renew_after = None
        if app.config.get("SESSION_REFRESH_EACH_REQUEST", True):
            if self.absolute_lifetime is not None:
                renew_after = self.renew_after if self.renew_after is not None else 0
            else:
                logger.info(
                    "SESSION_REFRESH_EACH_REQUEST: no renewal without absolute_lifetime "
                    "(it would keep a stolen cookie alive for ever)"
                )
        same_site = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
        return SessionPolicy(
            serializer,
            cookie_name=self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
            same_site=same_site,
            secure=bool(self.get_cookie_secure(app)),
            partitioned=bool(app.config.get("SESSION_COOKIE_PARTITIONED", False)),
            renew_after=renew_after,
            absolute_lifetime=self.absolute_lifetime,
            max_chunks=self.max_chunks,
        )

    def _subject(self, value: Any) -> Optional[str]:
        if self.subject is None or not isinstance(value, dict):
            return None
        subject = self.subject(value)
        return None if subject is None else str(subject)

    # -- Flask's interface ----------------------------------------------------------------------

    def open_session(self, app: flask.Flask, request: flask.Request) -> Session:
        policy = self.policy(app)
        state = SessionState(policy, request.headers.getlist("Cookie"))
        state.load()
        check = state.pending_check()
        if check is not None:
            if self.revocation is None:
                state.resolve("admitted")
            else:
                session_id, issued_at = check
                try:
                    revoked = self.revocation.session_revoked(session_id, issued_at, self._subject(state.value()))
                except StoreUnavailable:
                    logger.error("the revocation store cannot answer: the session is neither read nor written")
                    state.resolve("unavailable")
                else:
                    state.resolve("revoked" if revoked else "admitted")
        legacy = False
        if state.unavailable:
            session: Session = UnavailableSession()
        else:
            value = state.value()
            if value is None:
                migrated = self._load_legacy(app, request)
                if migrated is not None:
                    value, legacy = migrated, True
            session = Session(value if isinstance(value, dict) else {})
        session._itsclassified_state = state  # type: ignore[attr-defined]
        session._itsclassified_loaded = state.session_id is not None  # type: ignore[attr-defined]
        session._itsclassified_original = (  # type: ignore[attr-defined]
            None if state.unavailable else copy.deepcopy(dict(session))
        )
        # Reading the session above is not the application's access.
        session.accessed = False
        session.modified = legacy
        return session

    def _load_legacy(self, app: flask.Flask, request: flask.Request) -> Optional[Dict[str, Any]]:
        """The session of a cookie made by Flask's own interface, signed up to
        ``legacy_until``, or None."""
        if self.legacy_until is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return None
        signer = SecureCookieSessionInterface().get_signing_serializer(app)
        if signer is None:
            return None
        import itsdangerous

        try:
            data, signed_at = signer.loads(
                cookie, max_age=int(app.permanent_session_lifetime.total_seconds()), return_timestamp=True
            )
        except (itsdangerous.BadData, ValueError, TypeError):
            return None
        if signed_at.timestamp() > self.legacy_until:
            return None
        return _plain(data) if isinstance(data, dict) else None

    def save_session(self, app: flask.Flask, session: Any, response: flask.Response) -> None:
        state: Optional[SessionState] = getattr(session, "_itsclassified_state", None)
        if state is None:
            return
        if not isinstance(session, UnavailableSession):
            if session.accessed:
                state.mark_extracted()
            modified = session.modified
            original = getattr(session, "_itsclassified_original", None)
            if not modified and original is not None and dict(session) != original:
                modified = True
            if getattr(session, "_itsclassified_regenerated", False):
                state.clear()
                if session:
                    state.set(dict(session))
            elif modified:
                if session:
                    state.set(dict(session))
                elif getattr(session, "_itsclassified_loaded", False):
                    state.clear()
        cutoff = None
        if self.revocation is not None and state.starts_session(response.status_code):
            subject = self._subject(dict(session))
            if subject is not None:
                try:
                    cutoff = self.revocation.subject_cutoff(subject)
                except StoreUnavailable:
                    logger.error("the revocation store cannot answer: no session started")
                    _replace(response, 503, {"Retry-After": "1"})
                    return
        try:
            lines, cache_control, vary = state.finish(
                response.status_code, response.headers.getlist("Cache-Control"), cutoff
            )
        except SessionTooLarge as e:
            logger.error("%s", e)
            _replace(response, 500, {})
            return
        if cache_control is not None:
            response.headers["Cache-Control"] = cache_control
        if vary:
            response.vary.add("Cookie")
        for line in lines:
            response.headers.add("Set-Cookie", line)


def _replace(response: flask.Response, status: int, headers: Dict[str, str]) -> None:
    """Turns the handler's response into an empty ``status`` without any ``Set-Cookie``: what
    the session layer answers when it cannot write the session (save_session runs after the
    handler, where an exception would become Flask's generic 500)."""
    response.status_code = status
    response.set_data(b"")
    response.headers.pop("Set-Cookie", None)
    while "Set-Cookie" in response.headers:
        del response.headers["Set-Cookie"]
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Content-Type", None)
    for name, value in headers.items():
        response.headers[name] = value


def _state() -> SessionState:
    state = getattr(flask.session, "_itsclassified_state", None)
    if state is None:
        raise RuntimeError("app.session_interface is not itsclassified.flask.SessionInterface")
    return state


def _interface() -> SessionInterface:
    interface = flask.current_app.session_interface
    if not isinstance(interface, SessionInterface):
        raise RuntimeError("app.session_interface is not itsclassified.flask.SessionInterface")
    return interface


def logout() -> None:
    """Clears the session and revokes its id in the interface's store, so that every copy of the
    cookie (also one saved before a renewal or a change) is refused from now on.

    Raises :class:`SessionUnavailable` (a 503) when the revocation cannot be recorded; the
    response then removes no cookie, so the user sees the failure."""
    state, interface = _state(), _interface()
    revocation = state.revocation()
    if revocation is not None and interface.revocation is not None:
        try:
            interface.revocation.revoke_session(*revocation)
        except StoreUnavailable:
            state.revocation_failed()
            raise SessionUnavailable() from None
    _fresh_session(state)


def logout_all(subject: str, retain: Optional[int] = None) -> None:
    """"Log out everywhere" for ``subject``: every token and session of it issued up to now is
    refused on every instance sharing the store, and this request's session is cleared.
    ``retain``: the longest ``max_age + leeway`` of the tokens checked against the store
    (default: the sessions'). Raises :class:`SessionUnavailable` when it cannot be recorded."""
    state, interface = _state(), _interface()
    if interface.revocation is None:
        raise RuntimeError("logout_all needs the interface's revocation store")
    if retain is None:
        retain = interface.policy(flask.current_app).retention
    try:
        interface.revocation.revoke_subject_now(subject, retain)
    except StoreUnavailable:
        raise SessionUnavailable() from None
    _fresh_session(state)


def _fresh_session(state: SessionState) -> None:
    """Empties ``flask.session`` (also one the store could not answer for): the response
    removes the cookie, and a later write starts a new session."""
    session = flask.session._get_current_object()  # type: ignore[attr-defined]
    dict.clear(session)
    session._itsclassified_regenerated = True
    session.modified = True
    state.clear()
