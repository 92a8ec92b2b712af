#!/usr/bin/env python3
"""Independent reference implementation of the session profile (SPEC.md section 10).

Writes tests/vectors/sessions.json (SPEC.md 10.7 describes every field). Like
scripts/reference_vectors.py, whose token functions it reuses (HKDF-SHA256 from the standard
library's hmac, XChaCha20-Poly1305 from libsodium via PyNaCl, MessagePack from the msgpack
package), it shares no code with the Rust crate. The session envelope (10.1), the chunked cookie
writer (10.3) and the Cookie header reader (10.3) are written here from SPEC.md, and every
expected outcome below is computed by them and checked against the label written beside the
vector, so a mislabelled vector stops the run. The output is deterministic: fixed secrets,
nonces, times and session ids, no randomness, keys in insertion order.

    scripts/check_vectors.sh     # pinned pynacl and msgpack in a throwaway virtualenv; diffs
    python3 scripts/reference_sessions.py > tests/vectors/sessions.json
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import msgpack  # noqa: E402

from reference_vectors import (  # noqa: E402
    SECRET_A, SECRET_B, T0, b64, derive, frame, has_ext, load, mp, seal,
)

SALT_TEXT = "session-cookie"
SALT = SALT_TEXT.encode("utf-8")
MAX_AGE = 86400
SID_LEN = 16

# Chunked cookies (SPEC.md 10.3).
MAX_LINE = 4096
MAX_CHUNK_INDEX = 64  # NAME.<k> is a chunk only for k < 64
MAX_TOKEN_LEN_LIMIT = 65536
AEAD_BUDGET = 4

SID_1 = bytes(range(0x10, 0x20))
SID_2 = bytes(range(0xF0, 0x100))
SID_3 = bytes([0x42] * 16)
NONCE_S1 = bytes(range(0x30, 0x48))
NONCE_S2 = bytes(range(0x60, 0x78))
NONCE_S3 = bytes([0x77] * 24)
RECORD = {"user_id": "123", "role": "admin"}


# ---------------------------------------------------------------------------------------------
# The envelope (SPEC.md 10.1).


def envelope(value, session_id, start):
    """The canonical envelope plaintext, written by hand: 83 a1 76 <v> a1 69 c4 10 <id> a1 73 <s>."""
    assert len(session_id) == SID_LEN and 0 <= start < 2**64
    out = b"\x83" + b"\xa1v" + mp(value) + b"\xa1i" + b"\xc4\x10" + session_id + b"\xa1s" + mp(start)
    # msgpack writes the same map (insertion order, bin for bytes, shortest integers).
    assert out == msgpack.packb({"v": value, "i": session_id, "s": start}, use_bin_type=True)
    return out


def session_max_token_len(max_chunks):
    return min(MAX_TOKEN_LEN_LIMIT, MAX_LINE * max_chunks)


def read_envelope(plaintext):
    """SPEC.md 10.1 on a plaintext that passed SPEC.md 6.1 (framing and depth included):
    (value, session id, start), or None when the envelope is refused."""
    if not frame(plaintext):
        return None
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, use_list=True)
    unpacker.feed(plaintext)
    try:
        n = unpacker.read_map_header()
    except (msgpack.UnpackValueError, ValueError, TypeError):
        return None  # not a map (an array of the three fields included)
    seen = {}
    for _ in range(n):
        key = unpacker.unpack()
        value = unpacker.unpack()
        if has_ext(key) or has_ext(value):
            return None  # SPEC.md 3.4: never delivered as anything
        if key in ("v", "i", "s"):
            if key in seen:
                return None  # one of the three twice
            seen[key] = value
        # Any other key is ignored (forward compatibility).
    if set(seen) != {"v", "i", "s"}:
        return None
    sid, start = seen["i"], seen["s"]
    if not isinstance(sid, bytes) or len(sid) != SID_LEN:
        return None  # bin of exactly 16 bytes: not str, not an array, not 15 or 17 bytes
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < 2**64:
        return None  # an unsigned integer: not negative, not a float, not text
    return seen["v"], sid, start


def open_session(token, secret, salt, now, max_age):
    """SPEC.md 6.1 (as any value), then 10.1: ("ok", value, sid, start, meta) or a refusal."""
    got = load(token, [secret], salt, now, max_age,
               max_token_len=session_max_token_len(16), target="any")
    if got[0] != "ok":
        return got
    env = read_envelope(got[1])
    if env is None:
        return "Envelope"
    return ("ok",) + env + (got[2],)


# ---------------------------------------------------------------------------------------------
# The cookie writer (SPEC.md 10.3): one NAME line if it fits, else greedy chunks.


class TooManyChunks(Exception):
    pass


def line(name, value, attributes):
    return f"{name}={value}{attributes}"


def set_cookie_lines(cookie_name, token, attributes, max_chunks):
    single = line(cookie_name, token, attributes)
    if len(single.encode()) <= MAX_LINE:
        return [single]
    lines, rest, k = [], token, 0
    while rest:
        if k >= max_chunks:
            raise TooManyChunks
        room = MAX_LINE - len(line(f"{cookie_name}.{k}", "", attributes).encode())
        if room <= 0:
            raise TooManyChunks
        lines.append(line(f"{cookie_name}.{k}", rest[:room], attributes))
        rest = rest[room:]
        k += 1
    assert len(lines) >= 2
    return lines


# ---------------------------------------------------------------------------------------------
# The Cookie header reader (SPEC.md 10.3): the candidates, before any opening.


def visible_ascii(text):
    return text != "" and all(0x21 <= ord(c) <= 0x7E for c in text)


def chunk_index(suffix):
    """The index of a NAME.<suffix> cookie, or None when it is another cookie."""
    if not suffix or not all(c in "0123456789" for c in suffix):
        return None
    if len(suffix) > 1 and suffix[0] == "0":
        return None
    index = int(suffix)
    return index if index < MAX_CHUNK_INDEX else None


def candidates(cookie_header, cookie_name, max_chunks):
    singles, chunks = [], []
    for pair in cookie_header.split(";"):
        if "=" not in pair:
            continue
        name, value = pair.split("=", 1)
        name, value = name.strip(" \t"), value.strip(" \t")
        if not visible_ascii(value):
            continue  # empty, or not a token's alphabet: not a cookie of the session
        if name == cookie_name:
            singles.append(value)
        elif name.startswith(cookie_name + "."):
            index = chunk_index(name[len(cookie_name) + 1:])
            if index is not None:
                chunks.append((index, value))
    out = list(singles)
    if chunks:
        indices = sorted(i for i, _ in chunks)
        n = len(chunks)
        if indices == list(range(n)) and 2 <= n <= max_chunks:
            out.append("".join(v for _, v in sorted(chunks)))
    return out


# ---------------------------------------------------------------------------------------------
# Vectors.


def envelope_vector(name, note, value, session_id, start, nonce, issued_at=T0, secret=SECRET_A):
    plaintext = envelope(value, session_id, start)
    token = seal(secret, SALT, issued_at, nonce, plaintext)
    got = open_session(token, secret, SALT, issued_at, MAX_AGE)
    assert got[0] == "ok" and got[1] == value and got[2] == session_id and got[3] == start, name
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_text": SALT_TEXT,
        "key_id": f"{derive(secret, SALT)[0]:08x}",
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "session_id_hex": session_id.hex(),
        "session_id": b64(session_id),
        "start": start,
        "value_json": value,
        "payload_msgpack_hex": plaintext.hex(),
        "token": token,
    }


def invalid_envelope(name, note, plaintext, nonce=NONCE_S1, issued_at=T0, secret=SECRET_A):
    token = seal(secret, SALT, issued_at, nonce, plaintext)
    # Authentic and a well-framed v1 payload: only the session profile refuses it.
    assert load(token, [secret], SALT, issued_at, MAX_AGE, target="any")[0] == "ok", name
    assert open_session(token, secret, SALT, issued_at, MAX_AGE) == "Envelope", name
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_text": SALT_TEXT,
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "payload_msgpack_hex": plaintext.hex(),
        "token": token,
        "now": issued_at,
        "max_age": MAX_AGE,
    }


def accepted_envelope(name, note, plaintext, value, session_id, start, nonce=NONCE_S2,
                      issued_at=T0, secret=SECRET_A):
    token = seal(secret, SALT, issued_at, nonce, plaintext)
    got = open_session(token, secret, SALT, issued_at, MAX_AGE)
    assert got[0] == "ok" and got[1:4] == (value, session_id, start), (name, got)
    assert plaintext != envelope(value, session_id, start), name  # not the canonical form
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_text": SALT_TEXT,
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "payload_msgpack_hex": plaintext.hex(),
        "token": token,
        "now": issued_at,
        "max_age": MAX_AGE,
        "session_id_hex": session_id.hex(),
        "start": start,
        "value_json": value,
    }


def sized_envelope(name, token_len, nonce):
    """An envelope whose token is exactly token_len characters: a string value of the right size."""
    for size in range(max(0, 3 * token_len // 4 - 100), token_len):
        value = "x" * size
        token = seal(SECRET_A, SALT, T0, nonce, envelope(value, SID_3, T0))
        if len(token) == token_len:
            return envelope_vector(name, f"a {size}-character string value: a token of exactly "
                                         f"{token_len} characters, for the chunk vectors",
                                   value, SID_3, T0, nonce)
        if len(token) > token_len:
            break
    raise AssertionError(f"no token of length {token_len}")  # 4k+1 lengths do not exist


def chunk_vector(name, note, cookie_name, env, max_chunks, attributes, error=None):
    token = env["token"]
    assert len(token) <= session_max_token_len(max_chunks), name  # the encoder's TooLong is not it
    v = {"name": name, "note": note, "cookie_name": cookie_name, "token_from": env["name"],
         "token": token, "max_chunks": max_chunks, "attributes": attributes}
    try:
        lines = set_cookie_lines(cookie_name, token, attributes, max_chunks)
        got = None
    except TooManyChunks:
        got = "TooManyChunks"
    assert got == error, (name, got, error)
    if error is None:
        assert all(len(x.encode()) <= MAX_LINE for x in lines)
        # The reader joins what the writer wrote.
        header = "; ".join(x[:-len(attributes)] if attributes else x for x in lines)
        assert candidates(header, cookie_name, max_chunks) == [token], name
        v["set_cookie_lines"] = lines
        v["line_lengths"] = [len(x.encode()) for x in lines]
    else:
        v["error"] = error
    return v


def header_vector(name, note, cookie_header, expected, cookie_name="__Host-session",
                  max_chunks=3):
    got = candidates(cookie_header, cookie_name, max_chunks)
    assert got == expected, (name, got, expected)
    return {"name": name, "note": note, "cookie_name": cookie_name, "max_chunks": max_chunks,
            "cookie_header": cookie_header, "candidates": got}


def main():
    nested = {"user": {"id": "123", "roles": ["admin", "ops"]}, "prefs": {"theme": "dark",
                                                                         "page_size": 50}}
    envelopes = [
        envelope_vector("record-value", "the value {user_id, role} of a session that started an "
                        "hour before this token was issued", RECORD, SID_1, T0 - 3600, NONCE_S1),
        envelope_vector("string-value", "a session just started: start = issued-at",
                        "hello", SID_2, T0, NONCE_S2),
        envelope_vector("integer-value", "", 42, SID_1, T0, NONCE_S3),
        envelope_vector("start-above-2^32", "start as uint 64 (cf); a start after issued-at is "
                        "allowed (SPEC.md 10.2: a start in the future is within the lifetime)",
                        RECORD, SID_3, 2**32 + 5, NONCE_S1),
        envelope_vector("nested-map-value", "", nested, SID_2, T0 - 1, NONCE_S2,
                        secret=SECRET_B),
    ]
    # Tokens of chosen lengths for the chunk vectors (cookie name __Host-session and ATTRS
    # below: a line is 15 + token + 55 bytes).
    big = {
        "line-4096": sized_envelope("large-value-token-4026", 4026, NONCE_S1),
        "line-4097": sized_envelope("large-value-token-4027", 4027, NONCE_S2),
        "two": sized_envelope("large-value-token-6000", 6000, NONCE_S3),
        "three": sized_envelope("large-value-token-10000", 10000, NONCE_S1),
        "four": sized_envelope("large-value-token-12200", 12200, NONCE_S2),
        "eleven": sized_envelope("large-value-token-43000", 43000, NONCE_S3),
    }
    envelopes += big.values()

    sid_b = b"\xc4\x10" + SID_1
    invalid_envelopes = [
        invalid_envelope("legacy-plain-value", "today's plain shape: the value itself, no "
                         "session id (a map without v, i and s)", mp(RECORD)),
        invalid_envelope("legacy-v-s", "today's {v, s} shape of a session with an absolute "
                         "lifetime: no session id", mp({"v": RECORD, "s": T0})),
        invalid_envelope("missing-i", "the session id under another key", b"\x83\xa1v" + mp(RECORD)
                         + b"\xa2id" + sid_b + b"\xa1s" + mp(T0)),
        invalid_envelope("missing-v", "", b"\x82\xa1i" + sid_b + b"\xa1s" + mp(T0)),
        invalid_envelope("missing-s", "", b"\x82\xa1v" + mp(RECORD) + b"\xa1i" + sid_b),
        invalid_envelope("i-15-bytes", "", b"\x83\xa1v" + mp(RECORD) + b"\xa1i\xc4\x0f" + SID_1[:15]
                         + b"\xa1s" + mp(T0)),
        invalid_envelope("i-17-bytes", "", b"\x83\xa1v" + mp(RECORD) + b"\xa1i\xc4\x11" + SID_1
                         + b"\x00" + b"\xa1s" + mp(T0)),
        invalid_envelope("i-as-str", "16 bytes of text where bin is required (overrides the "
                         "neighbouring-type MAY of SPEC.md 3.4)", b"\x83\xa1v" + mp(RECORD)
                         + b"\xa1i" + mp("0123456789abcdef") + b"\xa1s" + mp(T0)),
        invalid_envelope("i-as-array", "an array of 16 small integers where bin is required",
                         b"\x83\xa1v" + mp(RECORD) + b"\xa1i" + mp(list(SID_1)) + b"\xa1s"
                         + mp(T0)),
        invalid_envelope("s-negative", "", b"\x83\xa1v" + mp(RECORD) + b"\xa1i" + sid_b + b"\xa1s"
                         + mp(-1)),
        invalid_envelope("s-as-string", "", b"\x83\xa1v" + mp(RECORD) + b"\xa1i" + sid_b + b"\xa1s"
                         + mp(str(T0))),
        invalid_envelope("s-as-float", "", b"\x83\xa1v" + mp(RECORD) + b"\xa1i" + sid_b + b"\xa1s"
                         + mp(float(T0))),
        invalid_envelope("duplicate-key", "s twice, with the same value", b"\x84\xa1v" + mp(RECORD)
                         + b"\xa1i" + sid_b + b"\xa1s" + mp(T0) + b"\xa1s" + mp(T0)),
        invalid_envelope("not-a-map", "the three fields as an array in order (overrides the "
                         "record-as-array MAY of SPEC.md 3.4)", b"\x93" + mp(RECORD) + sid_b
                         + mp(T0)),
        invalid_envelope("nil", "", b"\xc0"),
    ]

    accepted_envelopes = [
        accepted_envelope("keys-in-other-order", "s, i, v: a reader accepts any order",
                          b"\x83\xa1s" + mp(T0) + b"\xa1i" + sid_b + b"\xa1v" + mp(RECORD),
                          RECORD, SID_1, T0),
        accepted_envelope("unknown-key-ignored", "a fourth key x (forward compatibility)",
                          b"\x84\xa1v" + mp(RECORD) + b"\xa1i" + sid_b + b"\xa1s" + mp(T0)
                          + b"\xa1x" + mp([1, 2]), RECORD, SID_1, T0),
        accepted_envelope("non-shortest-forms", "map 16, i as bin 16 (c5 00 10), s as uint 64 and "
                          "keys as str 8: SPEC.md 3.4, a reader accepts every form",
                          b"\xde\x00\x03\xd9\x01v" + mp(RECORD) + b"\xd9\x01i\xc5\x00\x10" + SID_1
                          + b"\xd9\x01s\xcf" + T0.to_bytes(8, "big"), RECORD, SID_1, T0),
    ]

    attrs = "; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=86400"
    attrs_domain = ("; HttpOnly; SameSite=None; Secure; Path=/; Domain=example.com; "
                    "Max-Age=3600; Partitioned")
    host = "__Host-session"
    chunks = [
        chunk_vector("one-line-of-4096-bytes", "the whole line is exactly 4096 bytes: one cookie",
                     host, big["line-4096"], 1, attrs),
        chunk_vector("4097-bytes-two-chunks", "one byte more: two chunks, the first as long as "
                     "its line allows (4096 bytes), the second the 3 characters left",
                     host, big["line-4097"], 2, attrs),
        chunk_vector("4097-bytes-max-chunks-1", "the default max_chunks 1: the write fails",
                     host, big["line-4097"], 1, attrs, error="TooManyChunks"),
        chunk_vector("small-token-one-line", "", host, envelopes[0], 1, attrs),
        chunk_vector("two-chunks", "", host, big["two"], 2, attrs),
        chunk_vector("three-chunks", "", host, big["three"], 3, attrs),
        chunk_vector("three-chunks-domain-partitioned", "other attributes, shorter name",
                     "session", big["three"], 4, attrs_domain),
        chunk_vector("needs-four-max-chunks-3", "within the maximum length 3 x 4096 = 12288, "
                     "but 3 chunks hold fewer characters", host, big["four"], 3, attrs,
                     error="TooManyChunks"),
        chunk_vector("eleven-chunks-two-digit-index", "from NAME.10 on, the name is one byte "
                     "longer, so the chunk is one character shorter", host, big["eleven"], 12,
                     attrs),
    ]

    h = host
    cookie_headers = [
        header_vector("one-single", "", f"{h}=tokA", ["tokA"]),
        header_vector("two-singles", "in header order", f"{h}=tokA; {h}=tokB", ["tokA", "tokB"]),
        header_vector("whitespace-around-names-and-values", "SP and HTAB trimmed",
                      f" \t{h} \t= \ttokA\t ;other=1", ["tokA"]),
        header_vector("other-cookies-around", "session and __host-session are other cookies",
                      f"a=1; session=zzz; {h}=tokA; b=2", ["tokA"]),
        header_vector("empty-pairs-and-no-equals", "a pair without = is skipped",
                      f";; {h}; {h}=tokA;", ["tokA"]),
        header_vector("value-containing-equals", "split at the first =", f"{h}=ab=cd", ["ab=cd"]),
        header_vector("quoted-value-kept", "double quotes are part of the value (a token never "
                      "has them, so it fails as Malformed, costing no AEAD)", f'{h}="tokA"',
                      ['"tokA"']),
        header_vector("value-not-visible-ascii", "a value with a space inside or a non-ASCII "
                      "character is ignored", f"{h}=ab cd; {h}=caf\u00e9; {h}=tokA", ["tokA"]),
        header_vector("empty-value", "ignored", f"{h}=; {h}=tokA", ["tokA"]),
        header_vector("case-differs", "names are compared byte for byte",
                      f"__host-session=x; __Host-Session=y; __Host-Session.0=z; __Host-Session.1=w; "
                      f"{h}=tokA", ["tokA"]),
        header_vector("chunks-in-order", "", f"{h}.0=AAA; {h}.1=BBB", ["AAABBB"]),
        header_vector("chunks-out-of-order", "joined by index, not header order",
                      f"{h}.2=CCC; {h}.0=AAA; x=1; {h}.1=BBB", ["AAABBBCCC"]),
        header_vector("missing-chunk", "indices {0, 2}: refused", f"{h}.0=AAA; {h}.2=CCC", []),
        header_vector("duplicate-chunk-index", "refused even with equal values",
                      f"{h}.0=AAA; {h}.1=BBB; {h}.1=BBB", []),
        header_vector("chunk-index-at-max-chunks", "n = 3 > max_chunks 2: refused",
                      f"{h}.0=AAA; {h}.1=BBB; {h}.2=CCC", [], max_chunks=2),
        header_vector("any-chunk-with-max-chunks-1", "", f"{h}.0=AAA; {h}.1=BBB; {h}=tokA",
                      ["tokA"], max_chunks=1),
        header_vector("only-chunk-0", "n = 1: refused (a one-chunk set is never written)",
                      f"{h}.0=AAA", []),
        header_vector("extra-chunk-index-63", "index 63 is a chunk: {0, 1, 63} is refused",
                      f"{h}.0=AAA; {h}.1=BBB; {h}.63=ZZZ", []),
        header_vector("index-64-is-another-cookie", "64 and above are not chunk indices",
                      f"{h}.0=AAA; {h}.1=BBB; {h}.64=ZZZ", ["AAABBB"]),
        header_vector("leading-zero-is-another-cookie", "NAME.01 and NAME.00 are not chunks",
                      f"{h}.0=AAA; {h}.01=XXX; {h}.00=YYY; {h}.1=BBB", ["AAABBB"]),
        header_vector("other-suffixes", "NAME., NAME.x, NAME.-1, NAME.+1, NAME. 1 and NAME..1 "
                      "are other cookies",
                      f"{h}.=1; {h}.x=2; {h}.-1=3; {h}.+1=4; {h}. 1=5; {h}..1=6; {h}.0=AAA; "
                      f"{h}.1=BBB", ["AAABBB"]),
        header_vector("empty-chunk-value-ignored", "an empty NAME.2 is as if absent: the set "
                      "{0, 1} is whole", f"{h}.0=AAA; {h}.1=BBB; {h}.2=", ["AAABBB"]),
        header_vector("singles-then-chunks", "singles first, in header order, then the joined "
                      "set", f"{h}.1=BBB; {h}=tokA; {h}.0=AAA; {h}=tokB",
                      ["tokA", "tokB", "AAABBB"]),
        header_vector("other-name", "the cookie name is configured",
                      "session.0=AAA; __Host-session=x; session.1=BBB; session=tokA",
                      ["tokA", "AAABBB"], cookie_name="session"),
    ]

    out = {
        "version": 1,
        "profile": "session",
        "envelopes": envelopes,
        "invalid_envelopes": invalid_envelopes,
        "accepted_envelopes": accepted_envelopes,
        "chunks": chunks,
        "cookie_headers": cookie_headers,
    }
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
