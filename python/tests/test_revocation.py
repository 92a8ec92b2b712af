"""The revocation stores behave alike (SPEC.md 10.5): the in-memory one and the Redis ones,
sync and asyncio, against a real redis-server."""

from __future__ import annotations

import asyncio
import time

import pytest

import itsclassified
from itsclassified import TimedSerializer
from itsclassified.revocation import AsyncRedisStore, MemoryStore, RedisStore, StoreUnavailable, subject_hash


class Sync:
    """An async store's methods, run to completion, so one test drives every store."""

    def __init__(self, store) -> None:
        self.store = store
        self.loop = asyncio.new_event_loop()

    def __getattr__(self, name):
        method = getattr(self.store, name)
        return lambda *args: self.loop.run_until_complete(method(*args))


@pytest.fixture(params=["memory", "redis", "redis-asyncio"])
def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_server = request.getfixturevalue("redis_server")
    if request.param == "redis":
        yield RedisStore.from_url(redis_server.url)
    else:
        wrapped = Sync(AsyncRedisStore.from_url(redis_server.url))
        yield wrapped
        wrapped.loop.close()


def test_the_subject_hash_is_the_spec_s():
    assert subject_hash("123") == "jH0NPL0XzrSDuvbPxqPkTc4do2nWtgOkLTcMz0KcsAg"


def test_a_token_is_revoked_once_and_then_refused(store):
    tokens = TimedSerializer(itsclassified.generate_key(), "api", max_age=900)
    _, meta = tokens.loads_with_meta(tokens.dumps({"user_id": "1"}))
    assert store.is_revoked(meta, "1") is False
    assert store.revoke(meta) is True
    assert store.revoke(meta) is False  # exactly one revoker wins (a single-use link)
    assert store.is_revoked(meta, "1") is True and store.is_revoked(meta, None) is True
    forever = TimedSerializer(itsclassified.generate_key(), "api", max_age=None)
    _, meta = forever.loads_with_meta(forever.dumps(1))
    assert meta.expires_at is None
    with pytest.raises(ValueError, match="never expires"):
        store.revoke(meta)


def test_sessions_and_subjects(store):
    now = int(time.time())
    assert store.revoke_session("AAAAAAAAAAAAAAAAAAAAAA", now + 100) is True
    assert store.revoke_session("AAAAAAAAAAAAAAAAAAAAAA", now + 10) is False
    assert store.session_revoked("AAAAAAAAAAAAAAAAAAAAAA", now, None) is True
    assert store.session_revoked("BBBBBBBBBBBBBBBBBBBBBB", now, None) is False
    # A moment in the past records nothing.
    assert store.revoke_session("CCCCCCCCCCCCCCCCCCCCCC", now - 5) is True
    assert store.session_revoked("CCCCCCCCCCCCCCCCCCCCCC", now, None) is False
    # Cutoffs: issued at or before C is refused; a later cutoff wins, an earlier never moves it.
    assert store.subject_cutoff("u") is None
    store.revoke_subject("u", now + 30, 100)
    store.revoke_subject("u", now + 10, 100)
    assert store.subject_cutoff("u") == now + 30
    assert store.session_revoked("DDDDDDDDDDDDDDDDDDDDDD", now + 30, "u") is True
    assert store.session_revoked("DDDDDDDDDDDDDDDDDDDDDD", now + 31, "u") is False
    assert store.token_revoked("EEEEEEEEEEEEEEEEEEEEEE", now + 30, "u") is True
    assert store.token_revoked("EEEEEEEEEEEEEEEEEEEEEE", now + 30, "another") is False
    store.revoke_subject_now("v", 100)
    assert now + 29 <= store.subject_cutoff("v") <= now + 32


def test_a_full_memory_store_refuses_to_record_rather_than_forget():
    store = MemoryStore(capacity=2)
    until = int(time.time()) + 100
    store.revoke_session("AAAAAAAAAAAAAAAAAAAAAA", until)
    store.revoke_session("BBBBBBBBBBBBBBBBBBBBBB", until)
    with pytest.raises(StoreUnavailable):
        store.revoke_session("CCCCCCCCCCCCCCCCCCCCCC", until)
    assert store.session_revoked("AAAAAAAAAAAAAAAAAAAAAA", 0) is True


def test_a_dead_redis_is_unavailable_at_once_after_the_first_failure(caplog):
    import logging
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}")
        with caplog.at_level(logging.ERROR, logger="itsclassified.revocation"):
            with pytest.raises(StoreUnavailable):
                store.subject_cutoff("u")
        assert store.is_available is False
        assert [r.getMessage()[:40] for r in caplog.records] == ["the revocation store failed: the circuit"]
        began = time.monotonic()
        with pytest.raises(StoreUnavailable, match="a moment ago"):
            store.subject_cutoff("u")
        assert time.monotonic() - began < 0.05
