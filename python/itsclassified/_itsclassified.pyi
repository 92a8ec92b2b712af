"""Type stubs of the native module (src/lib.rs). Use the names re-exported by `itsclassified`."""

from typing import Any, List, Optional, Sequence, Tuple, Union

GIL_RELEASE_THRESHOLD: int
MAX_DEPTH: int

class BadToken(ValueError):
    """A token was refused. The base of every token rejection."""

class InvalidToken(BadToken):
    """Malformed, altered, made for another salt, too long, or of an unknown version."""

class TokenExpired(BadToken):
    """Authentic but older than max_age, or issued further in the future than the leeway."""

    issued_at: Optional[Any]  # datetime.datetime (aware, UTC), or None if out of range
    age: int  # whole seconds; negative for a token issued in the future

class UnknownKey(BadToken):
    """Made under a key that is not in the serializer's key list."""

class Serializer:
    def __new__(
        cls,
        keys: Sequence[Union[str, bytes]],
        salt: Union[str, bytes],
        max_age: Optional[Union[int, float]],
        leeway: Union[int, float],
        max_token_len: int,
    ) -> "Serializer": ...
    def dumps(self, obj: Any) -> str: ...
    def loads(self, token: str) -> Any: ...
    def reissue(self, token: str) -> str: ...
    def _dumps_at(self, obj: Any, issued_at: Optional[float]) -> str: ...
    def _loads_with_meta_at(
        self, token: str, now: Optional[float]
    ) -> Tuple[Any, int, int, str, int, str, Optional[int]]: ...
    @property
    def key_ids(self) -> List[str]: ...
    @property
    def max_age(self) -> Optional[float]: ...
    @property
    def max_token_len(self) -> int: ...

def generate_key() -> str: ...
def _untrusted_header(token: str) -> Tuple[int, str, int]: ...
def _msgpack(obj: Any) -> bytes: ...
def _from_msgpack(data: bytes, large: bool) -> Any: ...
