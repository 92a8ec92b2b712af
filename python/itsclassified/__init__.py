"""Encrypted, authenticated, expiring URL-safe tokens: the v1 tokens of the Rust crate
``itsclassified`` (XChaCha20-Poly1305, HKDF-SHA256 per key and salt, MessagePack payloads).

>>> import itsclassified
>>> s = itsclassified.TimedSerializer(itsclassified.generate_key(), salt="session", max_age=3600)
>>> s.loads(s.dumps({"user_id": "123", "role": "admin"}))
{'user_id': '123', 'role': 'admin'}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence, Tuple, Union

from ._itsclassified import (
    BadToken,
    InvalidToken,
    TokenExpired,
    UnknownKey,
    generate_key,
    _untrusted_header,
    SessionPolicy,
    SessionState,
    SessionTooLarge,
    Serializer as _Serializer,
)

__all__ = [
    "BadToken",
    "InvalidToken",
    "TokenExpired",
    "UnknownKey",
    "TimedSerializer",
    "SessionPolicy",
    "SessionState",
    "SessionTooLarge",
    "TokenMeta",
    "UntrustedHeader",
    "generate_key",
    "untrusted_header",
]

Key = Union[str, bytes]

_UTC = timezone.utc


def _unix_seconds(when: Union[datetime, int, float], what: str) -> float:
    """Unix seconds from an aware datetime or a number."""
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"{what} must be an aware datetime (with a tzinfo), or Unix seconds")
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError(f"{what} must be an aware datetime or Unix seconds, not {type(when).__name__}")
    return float(when)


def _seconds(value: Union[int, float, timedelta], what: str) -> Union[int, float]:
    """Seconds, >= 0: an int stays an int (exact over the whole 64-bit range, as in Rust)."""
    if isinstance(value, timedelta):
        seconds: Union[int, float] = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be seconds (int or float) or a timedelta, not {type(value).__name__}")
    else:
        seconds = value
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"{what} must be a finite number of seconds >= 0")
    if seconds < 0 or seconds > 2**64 - 1:
        raise ValueError(f"{what} must be a number of seconds from 0 to 2**64 - 1")
    return seconds


def _datetime(unix: int) -> Optional[datetime]:
    try:
        return datetime.fromtimestamp(unix, _UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class TokenMeta:
    """What a token that loaded says about itself, verified."""

    issued_at: Optional[datetime]
    """When the token was issued (aware, UTC, whole seconds); None only for an issued-at
    Python's datetime cannot hold (past the year 9999, possible with an absurd leeway)."""
    age: int
    """Its age when it was loaded, in whole seconds (0 for a token issued in the future within
    the leeway)."""
    key_id: str
    """The id of the key that opened it: 8 hex characters."""
    key_index: int
    """That key's position in the key list: 0 for the primary key."""
    token_id: str
    """The token's id (22 characters of base64url, SPEC.md section 6.4), for revoking this one
    token: the same id the Rust crate gives it. Not secret, not a credential."""
    expires_at: Optional[datetime]
    """When no instance accepts the token any more (``issued_at + max_age + leeway``): how
    long a revocation must be kept. None without expiry (or past what datetime holds)."""

    @property
    def is_primary(self) -> bool:
        """False when a fallback key opened the token: reissue it during a key rotation."""
        return self.key_index == 0


@dataclass(frozen=True)
class UntrustedHeader:
    """The clear-text header of a token, read WITHOUT a key and WITHOUT verifying anything:
    anyone can write any value into these fields. For debugging only."""

    version: int
    key_id: str
    issued_at: Optional[datetime]
    """The claimed issued-at, or None where Python's datetime cannot represent it."""
    issued_at_unix: int


def untrusted_header(token: str) -> UntrustedHeader:
    """Reads a token's version, key id and issued-at without a key. Nothing is verified.

    Raises InvalidToken for a string that is not a token of a known version."""
    version, key_id, issued_at_unix = _untrusted_header(token)
    return UntrustedHeader(version, key_id, _datetime(issued_at_unix), issued_at_unix)


class TimedSerializer(_Serializer):
    """Turns payloads into encrypted, authenticated, expiring URL-safe tokens and back.

    ``keys``: one key or a list of keys, primary first (the primary makes every token, the
    others are still accepted): base64 ``str`` (standard or URL-safe, padded or not, as made by
    :func:`generate_key`) or ``bytes``, at least 32 bytes each. ``salt`` names the purpose
    (``"session"``, ``"password-reset"``): a token never loads under another salt.

    ``max_age`` (keyword-only, required): seconds or a ``timedelta``, or ``None`` to say
    explicitly that tokens never expire. ``leeway``: how far in the future an issued-at may lie
    (clock skew). ``max_token_len``: the longest token made or accepted (at most 65536).

    Thread-safe: share one instance. Payloads: dict, list, tuple (loaded back as a list), str,
    int (64-bit range), float, bool, None, bytes.
    """

    def __new__(
        cls,
        keys: Union[Key, Sequence[Key]],
        salt: Union[str, bytes],
        *,
        max_age: Union[int, float, timedelta, None],
        leeway: Union[int, float, timedelta] = 60,
        max_token_len: int = 8192,
    ) -> "TimedSerializer":
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        elif isinstance(keys, (list, tuple)):
            keys = list(keys)
        else:
            raise TypeError("keys must be a key (str or bytes) or a list of keys")
        if isinstance(max_token_len, bool) or not isinstance(max_token_len, int):
            raise TypeError("max_token_len must be an int")
        if max_token_len < 0:
            # 0 is allowed, as in Rust and SPEC.md section 4.2: every token is then too long.
            raise ValueError("max_token_len must not be negative")
        max_age_seconds = None if max_age is None else _seconds(max_age, "max_age")
        return super().__new__(  # type: ignore[return-value]  # the native __new__ makes cls
            cls, keys, salt, max_age_seconds, _seconds(leeway, "leeway"), max_token_len
        )

    def replace_keys(self, keys: Union[Key, Sequence[Key]]) -> None:
        """Swaps the key list (primary first) at run time, for this serializer and everything
        built on it (a session middleware, a Flask session interface), without a restart and
        without dropping a request: rotate in three phases (add the new key as a fallback
        everywhere, make it primary, remove the old one). On an error (a key too short, say)
        the keys in force stay."""
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        elif isinstance(keys, (list, tuple)):
            keys = list(keys)
        else:
            raise TypeError("keys must be a key (str or bytes) or a list of keys")
        self._replace_keys(keys)

    def dumps_at(self, obj: Any, when: Union[datetime, int, float]) -> str:
        """Like :meth:`dumps`, issued at ``when`` (an aware datetime or Unix seconds; whole
        seconds are kept). For tests."""
        return self._dumps_at(obj, _unix_seconds(when, "when"))

    def loads_at(self, token: str, now: Union[datetime, int, float]) -> Any:
        """Like :meth:`loads`, as if the time were ``now``. For tests."""
        return self._loads_with_meta_at(token, _unix_seconds(now, "now"))[0]

    def loads_with_meta(self, token: str) -> Tuple[Any, TokenMeta]:
        """The payload and the verified :class:`TokenMeta` (issued-at, age, which key)."""
        return self._meta(self._loads_with_meta_at(token, None))

    def loads_with_meta_at(self, token: str, now: Union[datetime, int, float]) -> Tuple[Any, TokenMeta]:
        """Like :meth:`loads_with_meta`, as if the time were ``now``."""
        return self._meta(self._loads_with_meta_at(token, _unix_seconds(now, "now")))

    @staticmethod
    def _meta(loaded: Tuple[Any, int, int, str, int, str, Optional[int]]) -> Tuple[Any, TokenMeta]:
        payload, issued_at, age, key_id, key_index, token_id, expires_at = loaded
        expires = None if expires_at is None else _datetime(expires_at)
        return payload, TokenMeta(_datetime(issued_at), age, key_id, key_index, token_id, expires)
