"""The Python API: keys, serializers, payload round trips, every error type, threads."""

from __future__ import annotations

import base64
import math
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest

import itsclassified
from itsclassified import BadToken, InvalidToken, TimedSerializer, TokenExpired, UnknownKey
from itsclassified._itsclassified import GIL_RELEASE_THRESHOLD, MAX_DEPTH, _from_msgpack, _msgpack

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
SEED = {"user_id": "123", "role": "admin"}
T0 = 1_700_000_000


def make(keys=KEY_A, salt="session", **kw):
    kw.setdefault("max_age", 3600)
    return TimedSerializer(keys, salt, **kw)


# --- keys ---------------------------------------------------------------------------------


def test_generate_key_is_43_chars_of_base64url_for_32_random_bytes():
    keys = {itsclassified.generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert isinstance(key, str) and len(key) == 43
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key)
        assert len(base64.urlsafe_b64decode(key + "=")) == 32
        make(key)  # usable as a key


def test_key_forms_are_equivalent():
    raw = bytes([0xFB, 0xFF] * 16)
    forms = [
        raw,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]
    ids = {make(form).key_ids[0] for form in forms}
    assert len(ids) == 1
    token = make(forms[0]).dumps("x")
    for form in forms:
        assert make(form).loads(token) == "x"


def test_short_key_names_the_length_never_the_key():
    secret = base64.urlsafe_b64encode(b"short-but-secret-key!").decode()  # 21 bytes
    with pytest.raises(ValueError) as caught:
        make(secret)
    assert "21" in str(caught.value) and "32" in str(caught.value)
    assert secret not in str(caught.value)
    with pytest.raises(ValueError, match="got 7"):
        make(b"hunter2")


def test_bad_keys():
    with pytest.raises(ValueError):
        make("not base64 at all!!")
    with pytest.raises(ValueError):
        make([])
    with pytest.raises(ValueError):
        make([KEY_A, KEY_A])  # same key id twice
    with pytest.raises(TypeError):
        make(12345)
    with pytest.raises(TypeError):
        make([KEY_A, 5])


def test_max_age_is_keyword_only_and_required():
    with pytest.raises(TypeError):
        TimedSerializer(KEY_A, "s")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        TimedSerializer(KEY_A, "s", 3600)  # type: ignore[misc]
    assert TimedSerializer(KEY_A, "s", max_age=None).max_age is None
    assert TimedSerializer(KEY_A, "s", max_age=timedelta(minutes=5)).max_age == 300
    assert TimedSerializer(KEY_A, "s", max_age=1.5).max_age == 1.5
    for bad in (-1, float("nan"), float("inf"), timedelta(seconds=-1)):
        with pytest.raises(ValueError):
            TimedSerializer(KEY_A, "s", max_age=bad)
    for bad in ("3600", True):
        with pytest.raises(TypeError):
            TimedSerializer(KEY_A, "s", max_age=bad)


def test_repr_shows_key_ids_only():
    s = make(KEY_A)
    assert s.key_ids[0] in repr(s)
    assert base64.urlsafe_b64encode(KEY_A).decode().rstrip("=") not in repr(s)


# --- payloads -----------------------------------------------------------------------------

PAYLOADS = [
    SEED,
    {},
    [],
    "",
    "héllo ☃ 🔒 \x00 end",
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    1.5,
    -0.0,
    1e308,
    float("inf"),
    True,
    False,
    None,
    b"",
    b"\x00\xff" * 100,
    {"nested": {"deeper": [1, [2, [3, {"x": None}]]], "bytes": b"\x01"}},
    {1: "int key", -5: "negative", b"k": "bytes key", None: "nil key", 1.5: "float key"},
    ["mixed", 1, 2.5, None, True, b"b", {"k": []}],
    {"long": "x" * 5000},  # past the GIL-release threshold
    list(range(1000)),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p)[:40])
def test_round_trip(payload):
    s = make()
    token = s.dumps(payload)
    assert isinstance(token, str)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    loaded = s.loads(token)
    assert loaded == payload
    assert type(loaded) is type(payload)


def test_nan_round_trips():
    s = make()
    assert math.isnan(s.loads(s.dumps(float("nan"))))


def test_tuples_load_as_lists():
    s = make()
    assert s.loads(s.dumps((1, (2, "x")))) == [1, [2, "x"]]


def test_subclasses_of_the_payload_types_are_their_base_type():
    class D(dict):
        pass

    class S(str):
        pass

    s = make()
    assert s.loads(s.dumps(D(a=S("b")))) == {"a": "b"}


def test_both_loading_paths_build_the_same_objects():
    for payload in PAYLOADS:
        data = _msgpack(payload)
        small = _from_msgpack(data, False)
        large = _from_msgpack(data, True)
        if payload != payload:  # pragma: no cover - no NaN in PAYLOADS
            continue
        assert small == large == (list(payload) if isinstance(payload, tuple) else payload)


def test_large_tokens_take_the_gil_free_path_and_round_trip():
    s = make()
    payload = {"blob": b"\x07" * GIL_RELEASE_THRESHOLD, "text": "y" * GIL_RELEASE_THRESHOLD}
    token = s.dumps(payload)
    assert len(token) > GIL_RELEASE_THRESHOLD
    assert s.loads(token) == payload
    assert s.loads_with_meta(token)[0] == payload


def test_ints_outside_64_bits_raise_value_error():
    s = make()
    for n in (2**64, -(2**63) - 1, 10**40):
        with pytest.raises(ValueError, match="64-bit"):
            s.dumps({"n": n})


@pytest.mark.parametrize(
    "value, name",
    [
        ({1, 2}, "set"),
        (object(), "object"),
        (datetime.now(), "datetime"),
        (bytearray(b"x"), "bytearray"),
        ({"a": [1, {"b": frozenset()}]}, "frozenset"),
        ({(1, 2): "tuple keys are fine but complex values are not", "c": 1j}, "complex"),
    ],
)
def test_unsupported_types_raise_type_error_naming_the_type(value, name):
    with pytest.raises(TypeError, match=name):
        make().dumps(value)


def test_nesting_is_bounded_on_both_sides():
    s = make()
    ok = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert MAX_DEPTH == 128
    assert s.loads(s.dumps(ok)) == ok  # 128 nested lists
    with pytest.raises(ValueError, match="nested deeper than 128"):
        s.dumps([ok])
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="nested deeper"):
        s.dumps(cycle)
    d: dict = {}
    d["self"] = d
    with pytest.raises(ValueError, match="nested deeper"):
        s.dumps(d)


def test_payload_too_large_for_max_token_len():
    s = make(max_token_len=200)
    s.dumps("x" * 50)
    with pytest.raises(ValueError, match="too large") as caught:
        s.dumps("x" * 500)
    assert not isinstance(caught.value, BadToken)


# --- loads, meta, errors ------------------------------------------------------------------


def test_loads_with_meta():
    s = make([KEY_B, KEY_A])
    when = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    token = make(KEY_A).dumps_at(SEED, when)
    payload, meta = s.loads_with_meta_at(token, when + timedelta(seconds=90))
    assert payload == SEED
    assert meta.issued_at == when and meta.issued_at.tzinfo is not None
    assert meta.age == 90
    assert meta.key_id == make(KEY_A).key_ids[0] == s.key_ids[1]
    assert re.fullmatch(r"[0-9a-f]{8}", meta.key_id)
    assert meta.key_index == 1 and not meta.is_primary
    payload, meta = make(KEY_A).loads_with_meta(make(KEY_A).dumps(SEED))
    assert payload == SEED and meta.key_index == 0 and meta.is_primary and meta.age <= 1
    assert abs(meta.issued_at - datetime.now(timezone.utc)) < timedelta(seconds=5)
    # Every token has its own id (for revoking it alone), and a serializer without expiry
    # gives no time after which a revocation could be forgotten.
    _, other = make(KEY_A).loads_with_meta(make(KEY_A).dumps(SEED))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", meta.token_id) and other.token_id != meta.token_id
    assert meta.expires_at is not None and meta.expires_at > meta.issued_at
    forever = make(max_age=None)
    assert forever.loads_with_meta(forever.dumps(1))[1].expires_at is None


def test_times_as_datetimes_or_unix_seconds():
    s = make()
    token = s.dumps_at(SEED, T0 + 0.9)  # whole seconds are kept
    assert itsclassified.untrusted_header(token).issued_at_unix == T0
    assert s.loads_at(token, T0 + 3600) == SEED
    assert s.loads_at(token, datetime.fromtimestamp(T0 + 10, timezone.utc)) == SEED
    with pytest.raises(ValueError, match="aware"):
        s.dumps_at(SEED, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        s.loads_at(token, datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        s.dumps_at(SEED, -5)
    with pytest.raises(TypeError):
        s.loads_at(token, "now")


def test_expired():
    s = make(max_age=60)
    token = s.dumps_at(SEED, T0)
    assert s.loads_at(token, T0 + 60) == SEED  # exactly max_age still loads
    with pytest.raises(TokenExpired) as caught:
        s.loads_at(token, T0 + 61)
    e = caught.value
    assert isinstance(e, BadToken) and isinstance(e, ValueError)
    assert str(e) == "token has expired"
    assert e.issued_at == datetime.fromtimestamp(T0, timezone.utc)
    assert e.age == 61


def test_issued_in_the_future():
    s = make(leeway=30)
    token = s.dumps_at(SEED, T0 + 30)
    assert s.loads_with_meta_at(token, T0)[1].age == 0  # within the leeway
    token = s.dumps_at(SEED, T0 + 31)
    with pytest.raises(TokenExpired) as caught:
        s.loads_at(token, T0)
    assert str(caught.value) == "token was issued in the future"
    assert caught.value.age == -31
    assert caught.value.issued_at == datetime.fromtimestamp(T0 + 31, timezone.utc)


def test_no_expiry():
    s = make(max_age=None)
    token = s.dumps_at(SEED, 0)
    assert s.loads_at(token, T0 * 2) == SEED


def test_rejections():
    s = make()
    token = s.dumps(SEED)
    cases = {
        "other salt": (make(salt="password-reset"), token, InvalidToken),
        "other key": (make(KEY_B), token, UnknownKey),
        "altered": (s, token[:60] + ("A" if token[60] != "A" else "B") + token[61:], InvalidToken),
        "truncated": (s, token[:40], InvalidToken),
        "garbage": (s, "not a token!", InvalidToken),
        "empty": (s, "", InvalidToken),
        "too long": (make(max_token_len=50), token, InvalidToken),
        "padded": (s, token + "=", InvalidToken),
        "version 2": (s, "Ag" + token[2:], InvalidToken),
    }
    for name, (serializer, bad, cls) in cases.items():
        with pytest.raises(cls) as caught:
            serializer.loads(bad)
        assert type(caught.value) is cls, name
        assert isinstance(caught.value, BadToken) and isinstance(caught.value, ValueError)
        message = str(caught.value)
        assert message.startswith("token "), (name, message)
        assert (not bad or bad not in message) and token not in message


def test_wrong_payload_shape_is_bad_token_not_a_crash():
    # Each is well framed MessagePack that has no Python value: ext, an unhashable map key.
    for data in (bytes.fromhex("d40102"), bytes.fromhex("81910102"), bytes.fromhex("8180c0")):
        for large in (False, True):
            with pytest.raises(BadToken):
                _from_msgpack(data, large)


def test_deep_msgpack_is_bad_token_not_a_crash():
    deep = bytes([0x91]) * 5000 + bytes([0x90])  # 5001 nested arrays
    for large in (False, True):
        with pytest.raises(BadToken):
            _from_msgpack(deep, large)


def test_exception_hierarchy():
    assert issubclass(BadToken, ValueError)
    for cls in (InvalidToken, TokenExpired, UnknownKey):
        assert issubclass(cls, BadToken)
    assert itsclassified.BadToken.__module__ == "itsclassified"


def test_reissue_under_the_primary_key():
    old = make(KEY_A)
    token = old.dumps_at(SEED, T0)
    ring = make([KEY_B, KEY_A], max_age=None)
    fresh = ring.reissue(token)
    payload, meta = ring.loads_with_meta(fresh)
    assert payload == SEED and meta.key_index == 0
    assert itsclassified.untrusted_header(fresh).issued_at_unix == T0  # same issued-at
    assert fresh != token
    with pytest.raises(UnknownKey):
        make(KEY_B).reissue(old.dumps(SEED))


def test_untrusted_header():
    s = make()
    token = s.dumps_at(SEED, T0)
    h = itsclassified.untrusted_header(token)
    assert h.version == 1 and h.key_id == s.key_ids[0]
    assert h.issued_at == datetime.fromtimestamp(T0, timezone.utc) and h.issued_at_unix == T0
    with pytest.raises(InvalidToken):
        itsclassified.untrusted_header("garbage!")
    # An issued-at no datetime can hold: the number is kept, the datetime is None.
    far = make(max_age=None).dumps_at(1, 2**40)
    h = itsclassified.untrusted_header(far)
    assert h.issued_at_unix == 2**40 and h.issued_at is None


# --- threads ------------------------------------------------------------------------------


def test_one_serializer_shared_between_threads():
    s = make([KEY_A, KEY_B])
    errors: list = []
    big = "z" * (GIL_RELEASE_THRESHOLD * 2)

    def work(n: int) -> None:
        try:
            for i in range(300):
                payload = {"thread": n, "i": i, "big": big if i % 10 == 0 else ""}
                token = s.dumps(payload)
                got, meta = s.loads_with_meta(token)
                if got != payload or meta.key_index != 0:
                    errors.append((n, i))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def _other_thread_ran_during(call, repeat: int) -> bool:
    """Whether a thread that waits 10 ms and then needs the GIL gets it while this thread
    calls `call` in a loop. With a 60 s switch interval the interpreter never takes the GIL away,
    so the other thread can only run where the GIL is released."""
    import sys

    done = threading.Event()

    def other() -> None:
        import time

        time.sleep(0.01)  # blocks, so this thread gives the GIL back to the caller
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(60)
    try:
        thread = threading.Thread(target=other)
        thread.start()
        ran = False
        for _ in range(repeat):
            call()
            if done.is_set():
                ran = True
                break
    finally:
        sys.setswitchinterval(old)
    thread.join(timeout=30)
    return ran


def test_the_gil_is_released_for_large_tokens_only():
    s = make(max_token_len=65536)
    big_payload = {"blob": b"\x01" * 40_000}
    big_token = s.dumps(big_payload)
    small_token = s.dumps(SEED)
    # Large: the other thread runs while this one loads or dumps (well within 10 s of work).
    assert _other_thread_ran_during(lambda: s.loads(big_token), 50_000)
    assert _other_thread_ran_during(lambda: s.dumps(big_payload), 50_000)
    # Small: the GIL stays held (100 000 calls: well over the other thread's 10 ms wait).
    assert not _other_thread_ran_during(lambda: s.loads(small_token), 100_000)
    assert not _other_thread_ran_during(lambda: s.dumps(SEED), 100_000)
