"""Revoking tokens and sessions before they expire: logout that sticks, and "log out everywhere".

Two stores, with the layout and semantics of SPEC.md sections 10.5 and 10.6, so that a Python
service and a Rust service sharing one Redis refuse the same tokens and sessions:

- :class:`MemoryStore`: one process, bounded, no I/O (sync methods, also usable from async code);
- :class:`RedisStore` (redis-py, sync) and :class:`AsyncRedisStore` (``redis.asyncio``):
  ``pip install "itsclassified[redis]"``.

Every store answers within a bounded time or raises :class:`StoreUnavailable`: callers must
then fail closed (a 503 with ``Retry-After``, never a 401). After a failure, the Redis stores
refuse at once (a circuit breaker) for ``breaker_window`` seconds, then let one probe through.

>>> from itsclassified import TimedSerializer, generate_key
>>> from itsclassified.revocation import MemoryStore
>>> tokens = TimedSerializer(generate_key(), "api-token", max_age=900)
>>> store = MemoryStore()
>>> payload, meta = tokens.loads_with_meta(tokens.dumps({"user_id": "1"}))
>>> store.is_revoked(meta, subject="1")
False
>>> store.revoke(meta)
True
>>> store.is_revoked(meta, subject="1")
True
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from base64 import urlsafe_b64encode
from typing import Any, Dict, Optional, Tuple

from . import TokenMeta

__all__ = [
    "CUTOFF_MARGIN",
    "DEFAULT_PREFIX",
    "StoreUnavailable",
    "MemoryStore",
    "RedisStore",
    "AsyncRedisStore",
    "subject_hash",
]

logger = logging.getLogger("itsclassified.revocation")

#: How far past the revoker's clock a "log out everywhere" cutoff reaches (SPEC.md 10.5).
CUTOFF_MARGIN = 30
#: The key prefix of the Redis stores when none is given (SPEC.md 10.6).
DEFAULT_PREFIX = "itsclassified:revoked:"
#: How long a Redis command may take before the store is Unavailable, seconds.
DEFAULT_TIMEOUT = 0.25
#: How long the breaker refuses at once after a failure before one probe goes, seconds.
DEFAULT_BREAKER_WINDOW = 0.5

# SPEC.md 10.6, byte for byte the crate's: a later cutoff wins, the expiry never shrinks.
SET_CUTOFF = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local ttl = redis.call('PTTL', KEYS[1])
local new = tonumber(ARGV[1])
local px = tonumber(ARGV[2])
if new > cur then
  if ttl > px then px = ttl end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
elseif px > ttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 1
"""

# The session id: SET NX, and an existing key's expiry raised, never lowered (the crate's).
REVOKE_SESSION = """
local ttl = redis.call('PTTL', KEYS[1])
local px = tonumber(ARGV[1])
if ttl == -2 then
  redis.call('SET', KEYS[1], '1', 'PX', px)
  return 1
end
if ttl >= 0 and px > ttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 0
"""


class StoreUnavailable(Exception):
    """The revocation store could not answer or record (down, an error, no answer within the
    timeout, or its breaker open). Fail closed: a 503 with ``Retry-After``, never a 401."""


def subject_hash(subject: str) -> str:
    """The 43 characters a subject is stored under (SPEC.md 10.6): unpadded base64url of
    SHA-256("itsclassified revocation subject" || 0x00 || UTF-8(subject))."""
    try:
        data = subject.encode("utf-8")
    except UnicodeEncodeError:
        # A subject with lone surrogates has no UTF-8: hash its lossless escape instead, so it
        # is still kept apart from every other subject (no Rust service can name it anyway).
        data = subject.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(b"itsclassified revocation subject\x00" + data).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _unix(when: Any) -> int:
    """Whole Unix seconds from an int, a float or an aware datetime."""
    if hasattr(when, "timestamp"):
        return int(when.timestamp())
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError("a moment must be Unix seconds or an aware datetime")
    return int(when)


def _ms_until_end_of(second: int, now_ms: Optional[int] = None) -> int:
    """Milliseconds to the end of Unix second ``second`` (SPEC.md 10.6); <= 0 when past."""
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    return (second + 1) * 1000 - now_ms


def _token_until(meta: TokenMeta) -> int:
    if meta.expires_at is None:
        raise ValueError("a token that never expires cannot be revoked by id: rotate its key out")
    return _unix(meta.expires_at)


def _issued(meta: TokenMeta) -> int:
    if meta.issued_at is None:
        raise ValueError("the token's issued-at is out of range")
    return _unix(meta.issued_at)


class MemoryStore:
    """Revocations kept in this process (one instance of a service; tests). Every entry is
    dropped once it no longer matters; ``capacity`` bounds the live entries (a revocation past
    it raises :class:`StoreUnavailable`, never evicts a live one). Thread-safe."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._lock = threading.Lock()
        self._capacity = capacity
        self._tokens: Dict[str, int] = {}
        self._sessions: Dict[str, int] = {}
        self._subjects: Dict[str, Tuple[int, int]] = {}

    def __len__(self) -> int:
        with self._lock:
            self._prune(int(time.time()))
            return len(self._tokens) + len(self._sessions) + len(self._subjects)

    def _prune(self, now: int) -> None:
        for table in (self._tokens, self._sessions):
            for key in [k for k, until in table.items() if until < now]:
                del table[key]
        for key in [k for k, (_, until) in self._subjects.items() if until < now]:
            del self._subjects[key]

    def _room(self, now: int) -> None:
        if len(self._tokens) + len(self._sessions) + len(self._subjects) >= self._capacity:
            self._prune(now)
            if len(self._tokens) + len(self._sessions) + len(self._subjects) >= self._capacity:
                raise StoreUnavailable("the revocation store is full")

    def revoke_token(self, token_id: str, until: Any) -> bool:
        """Refuses the token ``token_id`` until the end of second ``until``; ``True`` unless it
        was revoked already."""
        until, now = _unix(until), int(time.time())
        with self._lock:
            if token_id in self._tokens and self._tokens[token_id] >= now:
                return False
            if until < now:
                return True
            self._room(now)
            self._tokens[token_id] = until
            return True

    def revoke(self, meta: TokenMeta) -> bool:
        """Revokes the token ``meta`` describes until it would have expired anyway."""
        return self.revoke_token(meta.token_id, _token_until(meta))

    def revoke_session(self, session_id: str, until: Any) -> bool:
        """Refuses every copy of the session ``session_id`` until the end of second ``until``
        (a later ``until`` extends, an earlier one never shortens); ``True`` unless revoked."""
        until, now = _unix(until), int(time.time())
        with self._lock:
            current = self._sessions.get(session_id)
            if current is not None and current >= now:
                self._sessions[session_id] = max(current, until)
                return False
            if until < now:
                return True
            self._room(now)
            self._sessions[session_id] = until
            return True

    def revoke_subject(self, subject: str, cutoff: Any, retain: int) -> None:
        """Refuses every token and session of ``subject`` issued at or before ``cutoff``, kept
        until ``cutoff + retain``; a later cutoff wins and the expiry never shrinks."""
        cutoff, now = _unix(cutoff), int(time.time())
        until = cutoff + int(retain)
        key = subject_hash(subject)
        with self._lock:
            current = self._subjects.get(key)
            if current is not None and current[1] >= now:
                self._subjects[key] = (max(current[0], cutoff), max(current[1], until))
                return
            if until < now:
                return
            self._room(now)
            self._subjects[key] = (cutoff, until)

    def revoke_subject_now(self, subject: str, retain: int) -> None:
        """"Log out everywhere": a cutoff at now + :data:`CUTOFF_MARGIN`."""
        self.revoke_subject(subject, int(time.time()) + CUTOFF_MARGIN, retain)

    def _cutoff(self, subject: Optional[str], now: int) -> Optional[int]:
        if subject is None:
            return None
        entry = self._subjects.get(subject_hash(subject))
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def subject_cutoff(self, subject: str) -> Optional[int]:
        """The subject's cutoff in force (Unix seconds), if any."""
        with self._lock:
            return self._cutoff(subject, int(time.time()))

    def token_revoked(self, token_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        """Whether the token is revoked: its id, or its subject's cutoff >= its issued-at."""
        now = int(time.time())
        with self._lock:
            until = self._tokens.get(token_id)
            if until is not None and until >= now:
                return True
            cutoff = self._cutoff(subject, now)
            return cutoff is not None and cutoff >= issued_at

    def is_revoked(self, meta: TokenMeta, subject: Optional[str] = None) -> bool:
        """Whether the token ``meta`` describes is revoked."""
        return self.token_revoked(meta.token_id, _issued(meta), subject)

    def session_revoked(self, session_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        """Whether a session token is revoked: its session id, or its subject's cutoff >= its
        issued-at."""
        now = int(time.time())
        with self._lock:
            until = self._sessions.get(session_id)
            if until is not None and until >= now:
                return True
            cutoff = self._cutoff(subject, now)
            return cutoff is not None and cutoff >= issued_at


class _Breaker:
    """Closed, or open until a moment after which one probe goes (the crate's breaker)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._open_until: Optional[float] = None
        self._probing = False

    def enter(self) -> bool:
        """True when this command may go (as the probe, if the breaker is open)."""
        with self._lock:
            if self._open_until is None:
                return True
            if time.monotonic() < self._open_until or self._probing:
                return False
            self._probing = True
            return True

    def record(self, ok: bool) -> None:
        with self._lock:
            self._probing = False
            was_open = self._open_until is not None
            self._open_until = None if ok else time.monotonic() + self.window
        # Once per change of state, not once per request.
        if ok and was_open:
            logger.warning("the revocation store answers again: the circuit breaker is closed")
        elif not ok and not was_open:
            logger.error(
                "the revocation store failed: the circuit breaker is open, requests that need it are "
                "refused at once and one probe a window goes to it"
            )

    @property
    def closed(self) -> bool:
        return self._open_until is None


def _parse_cutoff(value: Any) -> Optional[int]:
    """A stored cutoff: a decimal integer in 0 .. 2**64 - 1, else Unavailable (SPEC.md 10.6)."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    if not text.isascii() or not text.isdigit() or int(text) > 2**64 - 1:
        raise StoreUnavailable("the revocation store holds a cutoff that is not a number")
    return int(text)


class _RedisLayout:
    """The key names of SPEC.md 10.6 under a prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def token(self, token_id: str) -> str:
        return f"{self.prefix}t:{token_id}"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}i:{session_id}"

    def subject(self, subject: str) -> str:
        return f"{self.prefix}s:{subject_hash(subject)}"


class RedisStore(_RedisLayout):
    """Revocations in Redis, shared by every instance (Python or Rust) using the same server and
    prefix: the crate's ``RedisStore`` layout exactly (SPEC.md 10.6). Sync (redis-py); for
    asyncio use :class:`AsyncRedisStore`.

    ``client``: a ``redis.Redis``; build it with :meth:`from_url` to get socket timeouts of
    ``timeout`` seconds, so that a stalled server costs one timeout, not a hung request."""

    def __init__(
        self,
        client: Any,
        prefix: str = DEFAULT_PREFIX,
        *,
        breaker_window: float = DEFAULT_BREAKER_WINDOW,
    ) -> None:
        super().__init__(prefix)
        self.client = client
        self._breaker = _Breaker(breaker_window)
        self._set_cutoff = client.register_script(SET_CUTOFF)
        self._revoke_session = client.register_script(REVOKE_SESSION)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = DEFAULT_PREFIX, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> "RedisStore":
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        return cls(client, prefix, **kwargs)

    @property
    def is_available(self) -> bool:
        """False while the breaker is open (the last command failed): for health checks."""
        return self._breaker.closed

    def _run(self, fn: Any) -> Any:
        import redis

        if not self._breaker.enter():
            raise StoreUnavailable("the revocation store failed a moment ago and is not asked again yet")
        try:
            result = fn()
        except (redis.RedisError, OSError) as e:
            self._breaker.record(False)
            raise StoreUnavailable("the revocation store failed") from e
        except BaseException:
            self._breaker.record(False)
            raise
        self._breaker.record(True)
        return result

    def revoke_token(self, token_id: str, until: Any) -> bool:
        ms = _ms_until_end_of(_unix(until))
        if ms <= 0:
            return True
        return bool(self._run(lambda: self.client.set(self.token(token_id), 1, px=ms, nx=True)))

    def revoke(self, meta: TokenMeta) -> bool:
        return self.revoke_token(meta.token_id, _token_until(meta))

    def revoke_session(self, session_id: str, until: Any) -> bool:
        ms = _ms_until_end_of(_unix(until))
        if ms <= 0:
            return True
        key = self.session(session_id)
        return int(self._run(lambda: self._revoke_session(keys=[key], args=[ms]))) == 1

    def revoke_subject(self, subject: str, cutoff: Any, retain: int) -> None:
        cutoff = _unix(cutoff)
        ms = _ms_until_end_of(cutoff + int(retain))
        if ms <= 0:
            return
        key = self.subject(subject)
        self._run(lambda: self._set_cutoff(keys=[key], args=[str(cutoff), ms]))

    def revoke_subject_now(self, subject: str, retain: int) -> None:
        self.revoke_subject(subject, int(time.time()) + CUTOFF_MARGIN, retain)

    def subject_cutoff(self, subject: str) -> Optional[int]:
        return _parse_cutoff(self._run(lambda: self.client.get(self.subject(subject))))

    def _status(self, key: str, issued_at: int, subject: Optional[str]) -> bool:
        if subject is None:
            return int(self._run(lambda: self.client.exists(key))) == 1
        entry, cutoff = self._run(lambda: self.client.mget([key, self.subject(subject)]))
        cutoff = _parse_cutoff(cutoff)
        return entry is not None or (cutoff is not None and cutoff >= issued_at)

    def token_revoked(self, token_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        return self._status(self.token(token_id), issued_at, subject)

    def is_revoked(self, meta: TokenMeta, subject: Optional[str] = None) -> bool:
        return self.token_revoked(meta.token_id, _issued(meta), subject)

    def session_revoked(self, session_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        return self._status(self.session(session_id), issued_at, subject)


class AsyncRedisStore(_RedisLayout):
    """:class:`RedisStore` for asyncio (``redis.asyncio.Redis``): the same layout and methods,
    as coroutines, each bounded by ``timeout`` seconds."""

    def __init__(
        self,
        client: Any,
        prefix: str = DEFAULT_PREFIX,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        breaker_window: float = DEFAULT_BREAKER_WINDOW,
    ) -> None:
        super().__init__(prefix)
        self.client = client
        self.timeout = timeout
        self._breaker = _Breaker(breaker_window)
        self._set_cutoff = client.register_script(SET_CUTOFF)
        self._revoke_session = client.register_script(REVOKE_SESSION)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = DEFAULT_PREFIX, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> "AsyncRedisStore":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        return cls(client, prefix, timeout=timeout, **kwargs)

    @property
    def is_available(self) -> bool:
        return self._breaker.closed

    async def _run(self, make: Any) -> Any:
        import redis

        if not self._breaker.enter():
            raise StoreUnavailable("the revocation store failed a moment ago and is not asked again yet")
        try:
            result = await asyncio.wait_for(make(), self.timeout)
        except (redis.RedisError, OSError, asyncio.TimeoutError) as e:
            self._breaker.record(False)
            raise StoreUnavailable("the revocation store failed") from e
        except BaseException:
            self._breaker.record(False)
            raise
        self._breaker.record(True)
        return result

    async def revoke_token(self, token_id: str, until: Any) -> bool:
        ms = _ms_until_end_of(_unix(until))
        if ms <= 0:
            return True
        return bool(await self._run(lambda: self.client.set(self.token(token_id), 1, px=ms, nx=True)))

    async def revoke(self, meta: TokenMeta) -> bool:
        return await self.revoke_token(meta.token_id, _token_until(meta))

    async def revoke_session(self, session_id: str, until: Any) -> bool:
        ms = _ms_until_end_of(_unix(until))
        if ms <= 0:
            return True
        key = self.session(session_id)
        return int(await self._run(lambda: self._revoke_session(keys=[key], args=[ms]))) == 1

    async def revoke_subject(self, subject: str, cutoff: Any, retain: int) -> None:
        cutoff = _unix(cutoff)
        ms = _ms_until_end_of(cutoff + int(retain))
        if ms <= 0:
            return
        key = self.subject(subject)
        await self._run(lambda: self._set_cutoff(keys=[key], args=[str(cutoff), ms]))

    async def revoke_subject_now(self, subject: str, retain: int) -> None:
        await self.revoke_subject(subject, int(time.time()) + CUTOFF_MARGIN, retain)

    async def subject_cutoff(self, subject: str) -> Optional[int]:
        return _parse_cutoff(await self._run(lambda: self.client.get(self.subject(subject))))

    async def _status(self, key: str, issued_at: int, subject: Optional[str]) -> bool:
        if subject is None:
            return int(await self._run(lambda: self.client.exists(key))) == 1
        entry, cutoff = await self._run(lambda: self.client.mget([key, self.subject(subject)]))
        cutoff = _parse_cutoff(cutoff)
        return entry is not None or (cutoff is not None and cutoff >= issued_at)

    async def token_revoked(self, token_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        return await self._status(self.token(token_id), issued_at, subject)

    async def is_revoked(self, meta: TokenMeta, subject: Optional[str] = None) -> bool:
        return await self.token_revoked(meta.token_id, _issued(meta), subject)

    async def session_revoked(self, session_id: str, issued_at: int, subject: Optional[str] = None) -> bool:
        return await self._status(self.session(session_id), issued_at, subject)
