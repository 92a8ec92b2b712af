"""SPEC.md 10.7: the session vectors (tests/vectors/sessions.json) through the Python package,
which opens sessions with the crate's session core."""

from __future__ import annotations

import json

import pytest

import itsclassified
from itsclassified import BadToken, SessionPolicy, SessionState, TimedSerializer

from conftest import REPO

VECTORS = json.loads((REPO / "tests" / "vectors" / "sessions.json").read_text())


def policy(v: dict, now: int, max_chunks: int = 1, max_age: int = 86400) -> SessionPolicy:
    serializer = TimedSerializer(bytes.fromhex(v["secret_hex"]), v["salt_text"], max_age=max_age)
    return SessionPolicy(serializer, max_chunks=max_chunks, now=now)


def session_id_text(hex_id: str) -> str:
    from base64 import urlsafe_b64encode

    return urlsafe_b64encode(bytes.fromhex(hex_id)).rstrip(b"=").decode()


def test_the_file_is_the_one_the_spec_describes():
    assert VECTORS["version"] == 1 and VECTORS["profile"] == "session"
    assert all(VECTORS[k] for k in ("envelopes", "invalid_envelopes", "accepted_envelopes", "chunks"))


@pytest.mark.parametrize("v", VECTORS["envelopes"], ids=lambda v: v["name"])
def test_envelopes_open_to_their_value_id_and_start(v):
    p = policy(v, v["issued_at"], max_chunks=16)
    value, session_id, start, issued_at = p.open_session(v["token"], now=v["issued_at"])
    assert value == v["value_json"]
    assert session_id == v["session_id"] == session_id_text(v["session_id_hex"])
    assert (start, issued_at) == (v["start"], v["issued_at"])
    assert TimedSerializer(bytes.fromhex(v["secret_hex"]), "x", max_age=1).key_ids[0] == v["key_id"]


@pytest.mark.parametrize("v", VECTORS["invalid_envelopes"], ids=lambda v: v["name"])
def test_invalid_envelopes_are_refused_and_the_session_is_empty(v):
    p = policy(v, v["now"], max_age=v["max_age"])
    # Authentic as a token of any value (this raises if it were not) ...
    TimedSerializer(bytes.fromhex(v["secret_hex"]), v["salt_text"], max_age=v["max_age"]).loads_at(v["token"], v["now"])
    # ... but not a session.
    with pytest.raises(BadToken):
        p.open_session(v["token"], now=v["now"])
    state = SessionState(p, [f"{p.cookie_name}={v['token']}"])
    state.load()
    assert state.value() is None and state.pending_check() is None


@pytest.mark.parametrize("v", VECTORS["accepted_envelopes"], ids=lambda v: v["name"])
def test_accepted_envelopes_open(v):
    p = policy(v, v["now"], max_age=v["max_age"])
    value, session_id, start, _ = p.open_session(v["token"], now=v["now"])
    assert (value, session_id, start) == (v["value_json"], session_id_text(v["session_id_hex"]), v["start"])


WRITTEN = [c for c in VECTORS["chunks"] if "set_cookie_lines" in c]


@pytest.mark.parametrize("c", WRITTEN, ids=lambda c: c["name"])
def test_written_chunks_read_back_as_the_session(c):
    """The lines the crate's writer made for a token, sent back as a browser would: the
    Python reader joins them into the token and opens the session."""
    source = next(v for v in VECTORS["envelopes"] if v["name"] == c["token_from"])
    assert c["token"] == source["token"]
    serializer = TimedSerializer(bytes.fromhex(source["secret_hex"]), source["salt_text"], max_age=86400)
    p = SessionPolicy(serializer, cookie_name=c["cookie_name"], max_chunks=c["max_chunks"], now=source["issued_at"])
    assert all(len(line.encode()) == n <= 4096 for line, n in zip(c["set_cookie_lines"], c["line_lengths"]))
    header = "; ".join(line.split(";", 1)[0] for line in c["set_cookie_lines"])
    state = SessionState(p, [header])
    state.load()
    assert state.value() == source["value_json"]
    assert state.session_id == source["session_id"]
    # One chunk fewer is no session at all (a malformed chunk set is refused as a whole).
    if len(c["set_cookie_lines"]) > 1:
        state = SessionState(p, ["; ".join(header.split("; ")[:-1])])
        state.load()
        assert state.value() is None


def attributes_policy(c: dict, secret_hex: str) -> SessionPolicy:
    """A policy whose attribute string is the vector's."""
    attrs = dict(
        (part.split("=", 1) + [""])[:2] for part in c["attributes"].split("; ")[1:]
    )
    serializer = TimedSerializer(bytes.fromhex(secret_hex), "session-cookie", max_age=int(attrs["Max-Age"]))
    return SessionPolicy(
        serializer,
        cookie_name=c["cookie_name"],
        same_site=attrs["SameSite"].lower(),
        secure="Secure" in attrs,
        path=attrs["Path"],
        domain=attrs.get("Domain"),
        partitioned="Partitioned" in attrs,
        max_chunks=c["max_chunks"],
    )


@pytest.mark.parametrize("c", VECTORS["chunks"], ids=lambda c: c["name"])
def test_the_writer_splits_a_token_of_the_vector_s_length_as_the_vector_does(c):
    """The greedy writer depends only on lengths: a new session holding the vector's value has
    a token of the vector's length (same envelope size: a 16-byte id, a 32-bit start), so the
    Python door must write lines of exactly the vector's lengths, names and attributes, or fail
    with the vector's TooManyChunks."""
    source = next(v for v in VECTORS["envelopes"] if v["name"] == c["token_from"])
    policy = attributes_policy(c, source["secret_hex"])
    state = SessionState(policy, [])
    state.set(source["value_json"])
    if c.get("error") == "TooManyChunks":
        with pytest.raises(itsclassified.SessionTooLarge, match="max_chunks"):
            state.finish(200, [])
        return
    lines, cache_control, vary = state.finish(200, [])
    assert [len(line.encode()) for line in lines] == c["line_lengths"]
    names = [line.split("=", 1)[0] for line in lines]
    expected = [line.split("=", 1)[0] for line in c["set_cookie_lines"]]
    assert names == expected
    assert all(line.endswith(c["attributes"]) for line in lines)
    token = "".join(line.split("=", 1)[1][: -len(c["attributes"])] for line in lines)
    assert len(token) == len(c["token"])
    assert (cache_control, vary) == ("private", True)
