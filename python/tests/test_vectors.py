"""The crate's test vectors (tests/vectors/v1.json): every valid token loads to its payload, and
the MessagePack of each payload is byte for byte the vector's; every invalid token is refused
with the BadToken subclass that matches the crate's error."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import itsclassified
from itsclassified import BadToken, InvalidToken, TimedSerializer, TokenExpired, UnknownKey
from itsclassified._itsclassified import _msgpack

EXPECTED_CLASS = {
    "TooLong": InvalidToken,
    "Malformed": InvalidToken,
    "UnsupportedVersion": InvalidToken,
    "Invalid": InvalidToken,
    "UnknownKey": UnknownKey,
    "Expired": TokenExpired,
    "IssuedInFuture": TokenExpired,
    "Payload": BadToken,
}


KNOWN_FIELDS = {
    "name", "note", "secret_hex", "fallback_secrets_hex", "salt_hex", "salt_text", "issued_at",
    "nonce_hex", "now", "max_age", "leeway", "max_token_len", "payload_msgpack_hex",
    "payload_json", "token", "key_id", "error", "meta",
}


def serializer(v, max_age=None):
    """The serializer a vector describes (SPEC.md section 8): ring, salt, leeway, token limit."""
    unknown = set(v) - KNOWN_FIELDS
    assert not unknown, f"{v['name']}: fields this test cannot honour: {unknown}"
    keys = [bytes.fromhex(v["secret_hex"])] + [bytes.fromhex(k) for k in v.get("fallback_secrets_hex", [])]
    salt = bytes.fromhex(v["salt_hex"])
    if "salt_text" in v:
        assert v["salt_text"].encode() == salt
        salt = v["salt_text"]
    return TimedSerializer(
        keys,
        salt,
        max_age=max_age,
        leeway=v.get("leeway", 60),
        max_token_len=v.get("max_token_len", 8192),
    )


def test_there_are_vectors(vectors):
    assert len(vectors["valid"]) == 12
    assert len(vectors["invalid"]) == 54
    assert len(vectors["decode"]) == 11


def test_valid_vectors_load(vectors):
    for v in vectors["valid"]:
        s = serializer(v, max_age=3600)
        payload, meta = s.loads_with_meta_at(v["token"], v["issued_at"])
        assert payload == v["payload_json"], v["name"]
        assert meta.key_id == v["key_id"], v["name"]
        assert meta.issued_at == datetime.fromtimestamp(v["issued_at"], timezone.utc), v["name"]
        assert meta.age == 0 and meta.key_index == 0
        header = itsclassified.untrusted_header(v["token"])
        assert (header.version, header.key_id, header.issued_at_unix) == (1, v["key_id"], v["issued_at"])


def test_payload_msgpack_is_byte_for_byte_the_vectors(vectors):
    # The seed vector's bytes are what rmp-serde writes for the README's Rust `Session` struct
    # (asserted by tests/vectors.rs, seed_vector_from_a_struct).
    for v in vectors["valid"]:
        assert _msgpack(v["payload_json"]).hex() == v["payload_msgpack_hex"], v["name"]


def test_seed_token_length(vectors):
    seed = vectors["valid"][0]
    s = serializer(seed, max_age=3600)
    assert len(s.dumps({"user_id": "123", "role": "admin"})) == len(seed["token"]) == 103


# Refused by Rust only because its payload is not of the type asked for (an array where the
# Session struct is expected). Python's loads is untyped: this one is well-formed MessagePack
# and loads; checking its shape is the caller's job, as with json.loads.
TYPED_ONLY = {
    "wrong-type": [1, 2, 3],
    # A str whose bytes are not UTF-8: never delivered as text (SPEC.md section 3.3), but an
    # untyped loads has no text field to refuse it for, and gets the bytes, as a Rust type
    # that accepts bytes does.
    "invalid-utf8-in-str": {"user_id": b"\xff\xfe", "role": "admin"},
    # A record without its `role`: an untyped loads has no record to find it missing from.
    "missing-field": {"user_id": "123"},
}


def test_the_typed_only_vector_loads_untyped(vectors):
    by_name = {v["name"]: v for v in vectors["invalid"]}
    for name, payload in TYPED_ONLY.items():
        v = by_name[name]
        assert v["error"] == "Payload"
        assert serializer(v, max_age=v["max_age"]).loads_at(v["token"], v["now"]) == payload


def test_decode_vectors_load_with_their_metadata(vectors):
    for v in vectors["decode"]:
        s = serializer(v, max_age=v["max_age"])
        payload, meta = s.loads_with_meta_at(v["token"], v["now"])
        if "payload_json" in v:
            assert payload == v["payload_json"], v["name"]
        m = v["meta"]
        assert meta.key_id == m["key_id"], v["name"]
        assert meta.key_index == m["key_index"], v["name"]
        assert meta.age == m["age"], v["name"]
        try:
            expected = datetime.fromtimestamp(m["issued_at"], timezone.utc)
        except (OverflowError, OSError, ValueError):
            expected = None  # past what Python's datetime holds
        assert meta.issued_at == expected, v["name"]
        assert meta.token_id == m["token_id"], v["name"]
        if m["expires_at"] is None:
            assert meta.expires_at is None, v["name"]
        else:
            expires = datetime.fromtimestamp(m["expires_at"], timezone.utc)
            assert meta.expires_at == expires, v["name"]


def test_invalid_vectors_are_refused_with_the_matching_class(vectors):
    refused = 0
    for v in vectors["invalid"]:
        if v["name"] in TYPED_ONLY:
            continue
        refused += 1
        s = serializer(v, max_age=v["max_age"])
        with pytest.raises(BadToken) as caught:
            s.loads_at(v["token"], v["now"])
        expected = EXPECTED_CLASS[v["error"]]
        assert type(caught.value) is expected, (v["name"], type(caught.value), v["error"])
        # Fixed messages: never the token.
        assert not v["token"] or v["token"] not in str(caught.value)
        assert v["secret_hex"] not in str(caught.value)
    assert refused == len(vectors["invalid"]) - len(TYPED_ONLY)
