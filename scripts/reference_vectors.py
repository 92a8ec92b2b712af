#!/usr/bin/env python3
"""Independent reference implementation of the itsclassified v1 wire format (SPEC.md).

Writes tests/vectors/v1.json (SPEC.md section 8 describes every field). It shares no code with
the Rust crate: HKDF-SHA256 from the standard library's hmac, XChaCha20-Poly1305 from libsodium
(PyNaCl), MessagePack from the msgpack package, and the payloads the msgpack package cannot write
as SPEC.md requires (float 32, non-shortest forms, hostile framing) by hand from the MessagePack
specification. The Rust test `tests/vectors.rs` checks the crate against its output byte for
byte, so the two implementations check each other. The output is deterministic: fixed secrets,
nonces and times, no randomness, keys in insertion order.

    scripts/check_vectors.sh     # pinned pynacl and msgpack in a throwaway virtualenv; diffs
    python3 scripts/reference_vectors.py > tests/vectors/v1.json
"""
import base64
import hashlib
import hmac
import json
import struct
import sys

import msgpack
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as xchacha_decrypt
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as xchacha_encrypt
from nacl.exceptions import CryptoError

VERSION = 1
EXTRACT_SALT = b"itsclassified/v1"
INFO_KID = b"itsclassified/v1 kid"
INFO_ENC = b"itsclassified/v1 enc "


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def derive(secret, salt):
    prk = hkdf_extract(EXTRACT_SALT, secret)
    kid = struct.unpack(">I", hkdf_expand(prk, INFO_KID, 4))[0]
    return kid, hkdf_expand(prk, INFO_ENC + salt, 32)


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def seal_raw(secret, salt, issued_at, nonce, plaintext, version=VERSION, kid=None):
    real_kid, subkey = derive(secret, salt)
    header = struct.pack(">BIQ", version, real_kid if kid is None else kid, issued_at)
    return header + nonce + xchacha_encrypt(plaintext, header, nonce, subkey)


def seal(*args, **kwargs):
    return b64(seal_raw(*args, **kwargs))


SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 164))  # 64 bytes: longer secrets are allowed
NONCE_1 = bytes(range(0xA0, 0xA0 + 24))
NONCE_2 = bytes([0x5C] * 24)
T0 = 1_700_000_000


SECRET_SHORT = bytes(range(200, 231))  # 31 bytes: one short of the minimum
DEFAULT_LEEWAY = 60
DEFAULT_MAX_TOKEN_LEN = 8192
MAX_TOKEN_LEN_LIMIT = 65536
MAX_DEPTH = 128


def mp(value):
    """The canonical encoding (SPEC.md 3.1) of a value that msgpack writes canonically."""
    return msgpack.packb(value, use_bin_type=True)


def f32(x):
    return b"\xca" + struct.pack(">f", x)


def map_header(n):
    packer = msgpack.Packer()
    return packer.pack_map_header(n)


# ---------------------------------------------------------------------------------------------
# The decoder side, written from SPEC.md: every expected outcome below is computed by `load`
# and checked against the label written beside the vector, so a mislabelled vector stops the run.


def canonical_b64decode(token):
    """SPEC.md 4.1: canonical unpadded base64url, or None."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if any(c not in alphabet for c in token) or len(token) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw if b64(raw) == token else None


def frame(plaintext):
    """SPEC.md 3.2 and 3.3: True when the plaintext is exactly one value, no value inside more than
    MAX_DEPTH containers, no length or count past the end, no 0xc1."""
    pos, depth_of_next = 0, [0]  # stack of depths of the values still to read

    def take(n):
        nonlocal pos
        if pos + n > len(plaintext):
            raise ValueError("truncated")
        out = plaintext[pos:pos + n]
        pos += n
        return out

    def uint(n):
        return int.from_bytes(take(n), "big")

    try:
        while depth_of_next:
            depth = depth_of_next.pop()
            if depth > MAX_DEPTH:
                return False
            m = take(1)[0]
            children = 0
            if m <= 0x7F or m >= 0xE0 or m in (0xC0, 0xC2, 0xC3):
                pass
            elif 0x80 <= m <= 0x8F:
                children = 2 * (m & 0x0F)
            elif 0x90 <= m <= 0x9F:
                children = m & 0x0F
            elif 0xA0 <= m <= 0xBF:
                take(m & 0x1F)
            elif m == 0xC1:
                return False
            elif m in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):  # bin, str: length, data
                take(uint({0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[m]))
            elif m in (0xC7, 0xC8, 0xC9):  # ext 8/16/32: length, type, data
                take(uint({0xC7: 1, 0xC8: 2, 0xC9: 4}[m]) + 1)
            elif m in (0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3):
                take({0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
                      0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[m])
            elif 0xD4 <= m <= 0xD8:  # fixext: type, data
                take(1 + {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}[m])
            elif m in (0xDC, 0xDD):
                children = uint(2 if m == 0xDC else 4)
            else:  # 0xDE, 0xDF
                children = 2 * uint(2 if m == 0xDE else 4)
            if children > len(plaintext) - pos:
                return False
            depth_of_next.extend([depth + 1] * children)
    except ValueError:
        return False
    return pos == len(plaintext)


def has_ext(value):
    if isinstance(value, (msgpack.ExtType, msgpack.Timestamp)):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_ext(v) for v in value)
    if isinstance(value, dict):
        return any(has_ext(k) or has_ext(v) for k, v in value.items())
    return False


def decode_payload(plaintext, target):
    """SPEC.md 3.2 to 3.4. target "session" is the record {user_id: text, role: text};
    "any" is any value without ext types. Returns whether the payload is acceptable."""
    if not frame(plaintext):
        return False
    try:
        value = msgpack.unpackb(plaintext, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return False  # invalid UTF-8 in a str lands here (UnicodeDecodeError is a ValueError)
    if has_ext(value):
        return False
    if target == "session":
        return (isinstance(value, dict) and isinstance(value.get("user_id"), str)
                and isinstance(value.get("role"), str))
    return True


def expires_at(issued_at, max_age, leeway):
    """SPEC.md 6.4: issued-at + max_age + leeway, absent in no-expiry mode or past 2^63 - 1."""
    if max_age is None or issued_at + max_age + leeway > 2**63 - 1:
        return None
    return issued_at + max_age + leeway


def load(token, secrets, salt, now, max_age, leeway=DEFAULT_LEEWAY,
         max_token_len=DEFAULT_MAX_TOKEN_LEN, target="session"):
    """SPEC.md 6: the outcome of loading, as an error kind or ("ok", payload, meta)."""
    if len(token.encode("utf-8")) > min(max_token_len, MAX_TOKEN_LEN_LIMIT):
        return "TooLong"
    raw = canonical_b64decode(token)
    if raw is None or len(raw) < 53:
        return "Malformed"
    if raw[0] != VERSION:
        return "UnsupportedVersion"
    kid = int.from_bytes(raw[1:5], "big")
    ring = [derive(s, salt) for s in secrets]
    index = next((i for i, (k, _) in enumerate(ring) if k == kid), None)
    if index is None:
        return "UnknownKey"
    try:
        plaintext = xchacha_decrypt(raw[37:], raw[:13], raw[13:37], ring[index][1])
    except CryptoError:
        return "Invalid"
    issued_at = int.from_bytes(raw[5:13], "big")
    if issued_at > now:
        if issued_at - now > leeway:
            return "IssuedInFuture"
        age = 0
    else:
        age = now - issued_at
    if max_age is not None and age > max_age:
        return "Expired"
    if not decode_payload(plaintext, target):
        return "Payload"
    meta = {"issued_at": issued_at, "age": age, "key_id": f"{kid:08x}", "key_index": index,
            # SPEC.md 6.4: the first 16 nonce bytes, unpadded base64url (22 characters).
            "token_id": b64(raw[13:29]),
            "expires_at": expires_at(issued_at, max_age, leeway)}
    return ("ok", plaintext, meta)


def depth_ok(plaintext):
    """The encoder's depth rule (SPEC.md 3.3) on the canonical encoding of a value."""
    return frame(plaintext)


# ---------------------------------------------------------------------------------------------
# Vectors.


def config(fallback_secrets=(), leeway=None, max_token_len=None):
    out = {}
    if fallback_secrets:
        out["fallback_secrets_hex"] = [s.hex() for s in fallback_secrets]
    if leeway is not None:
        out["leeway"] = leeway
    if max_token_len is not None:
        out["max_token_len"] = max_token_len
    return out


def valid(name, secret, salt, issued_at, nonce, payload, note="", salt_text=None):
    plaintext = mp(payload)
    kid, _ = derive(secret, salt)
    token = seal(secret, salt, issued_at, nonce, plaintext)
    out = load(token, [secret], salt, issued_at, 3600, target="any")
    assert out[0] == "ok" and out[1] == plaintext, name
    v = {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "key_id": f"{kid:08x}",
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "payload_json": payload,
        "payload_msgpack_hex": plaintext.hex(),
        "token": token,
    }
    if salt_text is not None:
        assert salt_text.encode("utf-8") == salt
        v["salt_text"] = salt_text
    return v


def invalid(name, token, error, secret=SECRET_A, salt=b"session", now=T0, max_age=3600, note="",
            **cfg):
    got = load(token, [secret] + list(cfg.get("fallback_secrets", ())), salt, now, max_age,
               leeway=cfg.get("leeway", DEFAULT_LEEWAY),
               max_token_len=cfg.get("max_token_len", DEFAULT_MAX_TOKEN_LEN))
    assert got == error, (name, got, error)
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "now": now,
        "max_age": max_age,
        **config(**cfg),
        "token": token,
        "error": error,
    }


def decode(name, plaintext, now, max_age, note="", payload=None, secret=SECRET_A,
           sealing_secret=None, salt=b"session", issued_at=T0, nonce=NONCE_1, **cfg):
    token = seal(sealing_secret or secret, salt, issued_at, nonce, plaintext)
    secrets = [secret] + list(cfg.get("fallback_secrets", ()))
    got = load(token, secrets, salt, now, max_age, leeway=cfg.get("leeway", DEFAULT_LEEWAY),
               max_token_len=cfg.get("max_token_len", DEFAULT_MAX_TOKEN_LEN), target="any")
    assert got[0] == "ok", (name, got)
    v = {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "now": now,
        "max_age": max_age,
        **config(**cfg),
        "token": token,
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "payload_msgpack_hex": plaintext.hex(),
    }
    if payload is not None:
        assert msgpack.unpackb(plaintext, raw=False) == payload, name
        v["payload_json"] = payload
    v["meta"] = got[2]
    return v


def encode(name, plaintext, note="", error=None, payload=None, payload_type=None,
           secret=SECRET_A, salt=b"session", issued_at=T0, nonce=NONCE_1, max_token_len=None):
    """An encoder vector: the value whose canonical encoding is `plaintext`, sealed."""
    v = {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        **config(max_token_len=max_token_len),
        "payload_msgpack_hex": plaintext.hex(),
    }
    if payload is not None:
        # SPEC.md 8: where given, payload_json is the value too (floats and integers told apart
        # by type, as a lossless JSON reader tells them apart by text).
        assert mp(payload) == plaintext, name
        v["payload_json"] = payload
    if payload_type is not None:
        v["payload_type"] = payload_type
    limit = min(DEFAULT_MAX_TOKEN_LEN if max_token_len is None else max_token_len,
                MAX_TOKEN_LEN_LIMIT)
    token = seal(secret, salt, issued_at, nonce, plaintext)
    got = "TooDeep" if not depth_ok(plaintext) else "TooLong" if len(token) > limit else None
    assert got == error, (name, got, error)
    if error is None:
        v["token"] = token
    else:
        v["error"] = error
    return v


def keys(name, secrets, salt=b"session", error=None, note=""):
    v = {"name": name, "note": note, "secrets_hex": [s.hex() for s in secrets],
         "salt_hex": salt.hex()}
    ids = [derive(s, salt)[0] for s in secrets]
    if any(len(s) < 32 for s in secrets):
        got = "SecretTooShort"
    elif not secrets:
        got = "EmptyKeyRing"
    elif len(set(ids)) != len(ids):
        got = "DuplicateKeyId"
    else:
        got = None
    assert got == error, (name, got, error)
    if error is None:
        v["key_ids"] = [f"{k:08x}" for k in ids]
    else:
        v["error"] = error
    return v


def flip(token_raw, index):
    raw = bytearray(token_raw)
    raw[index] ^= 0x01
    return b64(bytes(raw))


def nested_arrays(n, innermost):
    return b"\x91" * n + innermost


def nested_maps(n, innermost):
    return b"\x81\xa1k" * n + innermost


RECORD_TYPE = (
    "record {id: u32 = 300, delta: i16 = -200, ratio: f32 = 0.25, score: f64 = 0.1, "
    "nick: option<text> = none, email: option<text> = some(\"a@example.com\"), "
    "role: enum Role {Admin, Viewer} = Admin, shape: enum Shape {Circle(f64), "
    "Rect {w: u16, h: u16}, Line(u8, u8)} = Rect {w: 3, h: 4}, line: Shape = Line(1, 2), "
    "circle: Shape = Circle(0.5), raw: bytes = 00ff, small: sequence<u8> = [1, 2], "
    "flags: tuple (bool, char) = (true, 'x'), nothing: unit}"
)


# Numbers as a language with one number type holds them (SPEC.md 3.1, "Numbers"): each is
# written the same way whether its kind comes from the type (here, Python) or from the JSON text.
ONE_NUMBER_TYPE = [1, 0.5, -0.0, 2**53 - 1, -(2**53 - 1), float(2**53), -float(2**53), 2**32,
                   1e300]
# The canonical NaN (SPEC.md 3.1): quiet, sign clear, no payload.
NAN_F64 = bytes.fromhex("7ff8000000000000")


def record_plaintext():
    fields = [
        ("id", mp(300)), ("delta", mp(-200)), ("ratio", f32(0.25)), ("score", mp(0.1)),
        ("nick", mp(None)), ("email", mp("a@example.com")), ("role", mp("Admin")),
        ("shape", mp({"Rect": {"w": 3, "h": 4}})), ("line", mp({"Line": [1, 2]})),
        ("circle", mp({"Circle": 0.5})), ("raw", mp(b"\x00\xff")), ("small", mp([1, 2])),
        ("flags", mp([True, "x"])), ("nothing", mp(None)),
    ]
    return map_header(len(fields)) + b"".join(mp(k) + v for k, v in fields)


def non_shortest_plaintext():
    return (b"\xde\x00\x07"                                  # map 16 of 7 entries
            + b"\xd9\x07user_id" + b"\xda\x00\x03123"        # str 8 key, str 16 value
            + b"\xd9\x04role" + b"\xdb\x00\x00\x00\x05admin"  # str 32 value
            + mp("n") + b"\xcf" + (5).to_bytes(8, "big")      # uint 64 holding 5
            + mp("m") + b"\xd3" + (-1).to_bytes(8, "big", signed=True)  # int 64 holding -1
            + mp("p") + b"\xd0\x05"                          # int 8 holding 5
            + mp("f") + f32(1.5)                             # float 32
            + mp("a") + b"\xdc\x00\x01\x01")                 # array 16 of 1


def main():
    seed = {"user_id": "123", "role": "admin"}
    valids = [
        valid("seed-session", SECRET_A, b"session", T0, NONCE_1, seed,
              "the README's example payload: a 103-character token"),
        valid("other-salt-same-key", SECRET_A, b"password-reset", T0, NONCE_1, seed,
              "same secret, other salt: same key id, different ciphertext"),
        valid("long-secret-binary-salt", SECRET_B, bytes([0, 255, 10, 13]), T0 + 1, NONCE_2,
              {"user_id": "456", "role": "viewer", "scopes": ["read", "write"], "n": -17}),
        valid("nil", SECRET_A, b"session", 0, NONCE_2, None, "issued at the epoch, payload nil"),
        valid("unicode-string", SECRET_A, b"", 2**32 + 5, NONCE_1, "h\u00e9llo \u2603 \U0001F512",
              "empty salt, issued-at above 2^32"),
        valid("integers-and-floats", SECRET_B, b"metrics", T0, NONCE_1,
              [0, 127, 128, 65535, 2**32, 2**64 - 1, -1, -33, -2**63, 1.5, True, False]),
        valid("nested", SECRET_A, b"session", T0, NONCE_2,
              {"a": {"b": {"c": [[], {}, [1, [2, [3]]]]}}}),
        valid("long-string", SECRET_A, b"session", T0, NONCE_1, "x" * 1000,
              "str16 length prefix"),
        valid("utf8-text-salt", SECRET_A, "\u00fcber-session".encode("utf-8"), T0, NONCE_1, seed,
              "a text salt is its UTF-8 bytes (c3bc for the u-umlaut), not Latin-1 or UTF-16",
              salt_text="\u00fcber-session"),
        valid("string-length-boundaries", SECRET_A, b"session", T0, NONCE_2,
              ["x" * 31, "x" * 32, "\u00e9" * 16, "x" * 255, "x" * 256],
              "fixstr up to 31 bytes, str 8 from 32 to 255, str 16 from 256; lengths in bytes "
              "(16 x e-acute is 32 bytes: str 8)"),
        valid("integer-boundaries", SECRET_B, b"metrics", T0, NONCE_2,
              [127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, -32, -33, -128, -129,
               -32768, -32769, -2**31, -2**31 - 1],
              "shortest form on each side of every width; non-negative integers as uint"),
        valid("longest-default-token", SECRET_A, b"session", T0, NONCE_1, "x" * 6088,
              "a 6091-byte plaintext: the token is exactly 8192 characters, the default maximum"),
    ]

    good = seal_raw(SECRET_A, b"session", T0, NONCE_1, mp(seed))
    good_b64 = b64(good)
    n = len(good)

    def authentic(plaintext, issued_at=T0):
        return seal(SECRET_A, b"session", issued_at, NONCE_1, plaintext)

    invalids = [
        invalid("flipped-version-bit", flip(good, 0), "UnsupportedVersion"),
        invalid("version-2", seal(SECRET_A, b"session", T0, NONCE_1, mp(seed), version=2),
                "UnsupportedVersion", note="a well-formed token of a version this release does not read"),
        invalid("version-0", b64(b"\x00" + good[1:]), "UnsupportedVersion"),
        invalid("unknown-key-id", flip(good, 4), "UnknownKey"),
        invalid("other-secret", seal(SECRET_B, b"session", T0, NONCE_1, mp(seed)),
                "UnknownKey"),
        invalid("flipped-issued-at", flip(good, 12), "Invalid",
                note="issued-at is associated data: altering it fails authentication"),
        invalid("flipped-nonce", flip(good, 20), "Invalid"),
        invalid("flipped-ciphertext", flip(good, 40), "Invalid"),
        invalid("flipped-tag", flip(good, n - 1), "Invalid"),
        invalid("other-salt", good_b64, "Invalid", salt=b"password-reset",
                note="same key id, but the subkey of another salt"),
        invalid("truncated-tag", b64(good[:-1]), "Invalid"),
        invalid("extended", b64(good + b"\x00"), "Invalid"),
        invalid("too-short", b64(good[:52]), "Malformed", note="52 bytes: one less than header, nonce and tag"),
        invalid("empty", "", "Malformed"),
        invalid("padding", good_b64 + "=", "Malformed"),
        invalid("standard-alphabet", base64.b64encode(good).decode().rstrip("="), "Malformed",
                note="+ or / instead of - or _"),
        invalid("trailing-bits", good_b64[:-1] + chr(ord(good_b64[-1]) + 1), "Malformed",
                note="non-zero unused bits in the last character: not canonical"),
        invalid("whitespace", good_b64[:50] + " " + good_b64[50:], "Malformed"),
        invalid("newline", good_b64 + "\n", "Malformed"),
        invalid("length-mod-4-is-1", good_b64 + "AA", "Malformed",
                note="105 characters: no byte string encodes to a length of 4k+1"),
        invalid("too-long", "A" * 8193, "TooLong", note="refused before decoding (default maximum 8192)"),
        invalid("expired", good_b64, "Expired", now=T0 + 3601),
        invalid("issued-in-future", authentic(mp(seed), issued_at=T0 + 61), "IssuedInFuture",
                note="61 s ahead, default leeway 60 s"),
        invalid("trailing-bytes", authentic(mp(seed) + b"\xc0"), "Payload",
                note="authentic, but the plaintext holds two values"),
        invalid("reserved-marker", authentic(b"\xc1"), "Payload"),
        invalid("empty-plaintext", authentic(b""), "Payload"),
        invalid("deep-nesting", authentic(b"\x91" * 200 + b"\xc0"), "Payload",
                note="200 nested arrays: over the depth limit of 128"),
        invalid("absurd-str32", authentic(b"\xdb\xff\xff\xff\xff" + b"x" * 8), "Payload",
                note="a 4 GiB length prefix on 8 bytes"),
        invalid("absurd-array32", authentic(b"\xdd\xff\xff\xff\xff\xc0"), "Payload"),
        invalid("wrong-type", authentic(mp([1, 2, 3])), "Payload",
                note="an array where the session struct is expected"),
        invalid("missing-field", authentic(mp({"user_id": "123"})), "Payload",
                note="role is absent and has no default (SPEC.md 3.4)"),
        # Token length (SPEC.md 4.2).
        invalid("too-long-in-bytes", "\u00e9" * 4100, "TooLong",
                note="4100 characters but 8200 bytes: the length is counted in bytes "
                     "(a count of characters would reach Malformed)"),
        invalid("too-long-for-configured-maximum", good_b64, "TooLong", max_token_len=n * 4 // 3,
                note="the 103-character seed token against a maximum of 102"),
        invalid("maximum-clamped-to-65536", "A" * 65537, "TooLong", max_token_len=100000,
                note="a configured maximum above 65536 acts as 65536"),
        invalid("maximum-clamped-at-65536-not-below", "A" * 65536, "UnsupportedVersion",
                max_token_len=100000,
                note="65536 characters pass the length check and decode to a version byte 0"),
        invalid("maximum-zero", good_b64, "TooLong", max_token_len=0,
                note="a maximum of 0 refuses every non-empty token"),
        invalid("maximum-zero-empty-token", "", "Malformed", max_token_len=0,
                note="the empty string is not longer than 0: it fails decoding"),
        # Order of checks (SPEC.md 6.1): each vector fails two adjacent checks.
        invalid("too-long-and-not-base64", "!" * 8193, "TooLong",
                note="length is checked before the alphabet"),
        invalid("too-short-and-version-2", b64(b"\x02" + good[1:52]), "Malformed",
                note="52 bytes with version byte 2: the size is checked before the version"),
        invalid("not-canonical-and-version-2",
                b64(b"\x02" + good[1:]) + "=", "Malformed",
                note="padding on a version-2 token: the text form is checked before the version"),
        invalid("version-2-and-unknown-key",
                seal(SECRET_B, b"session", T0, NONCE_1, mp(seed), version=2), "UnsupportedVersion",
                note="the version is checked before the key id"),
        invalid("unknown-key-and-expired",
                seal(SECRET_B, b"session", T0, NONCE_1, mp(seed)), "UnknownKey", now=T0 + 10**6,
                note="the key id is checked before anything after it; unknown-key-id and "
                     "other-secret also fail authentication under every key of the ring"),
        invalid("forged-and-expired", flip(good, n - 1), "Invalid", now=T0 + 10**6,
                note="authentication comes before time: an unauthenticated issued-at is never "
                     "judged"),
        invalid("forged-and-in-future",
                flip(seal_raw(SECRET_A, b"session", T0 + 3600, NONCE_1, mp(seed)), 40), "Invalid"),
        invalid("expired-and-bad-payload", authentic(b"\xc1"), "Expired", now=T0 + 3601,
                note="time comes before the payload"),
        invalid("in-future-and-bad-payload", authentic(b"\xc1", issued_at=T0 + 61),
                "IssuedInFuture"),
        # Time (SPEC.md 6.3).
        invalid("leeway-zero", authentic(mp(seed), issued_at=T0 + 1), "IssuedInFuture", leeway=0),
        invalid("no-expiry-still-refuses-future", authentic(mp(seed), issued_at=T0 + 61),
                "IssuedInFuture", max_age=None,
                note="no-expiry mode (max_age null) turns off the age check only"),
        invalid("max-age-zero", good_b64, "Expired", now=T0 + 1, max_age=0,
                note="age 1 s against max_age 0"),
        # Payload (SPEC.md 3).
        invalid("depth-129-arrays-around-scalar", authentic(nested_arrays(129, b"\x01")),
                "Payload", note="the integer 1 sits inside 129 arrays: one too many"),
        invalid("depth-130-arrays-innermost-empty", authentic(nested_arrays(129, b"\x90")),
                "Payload", note="the innermost (empty) array sits inside 129 arrays"),
        invalid("depth-129-maps-around-scalar", authentic(nested_maps(129, b"\x01")), "Payload",
                note="{\"k\": {\"k\": ... 1}} with 129 maps"),
        invalid("invalid-utf8-in-str",
                authentic(b"\x82\xa7user_id\xa2\xff\xfe\xa4role\xa5admin"), "Payload",
                note="user_id is a str whose bytes are not UTF-8"),
        invalid("ext-in-field",
                authentic(b"\x82\xa7user_id\xd6\xff\x00\x00\x00\x00\xa4role\xa5admin"),
                "Payload", note="user_id is an ext value (type -1, timestamp): never text"),
    ]

    decodes = [
        decode("depth-129-arrays-innermost-empty", nested_arrays(128, b"\x90"), T0, 3600,
               note="the innermost (empty) array sits inside 128 arrays: accepted"),
        decode("depth-128-arrays-around-scalar", nested_arrays(128, b"\x01"), T0, 3600,
               note="the integer 1 sits inside 128 arrays: accepted"),
        decode("depth-128-maps-around-scalar", nested_maps(128, b"\x01"), T0, 3600,
               note="{\"k\": {\"k\": ... 1}} with 128 maps: accepted"),
        decode("non-shortest-forms", non_shortest_plaintext(), T0, 3600,
               payload={"user_id": "123", "role": "admin", "n": 5, "m": -1, "p": 5, "f": 1.5,
                        "a": [1]},
               note="map 16, str 8/16/32, uint 64, int 64, int 8 and array 16 where shorter forms "
                    "exist, and a float 32: a decoder accepts every form"),
        decode("age-exactly-max-age", mp(seed), T0 + 3600, 3600, payload=seed,
               note="age = max_age loads"),
        decode("in-future-within-leeway-age-zero", mp(seed), T0, 0, issued_at=T0 + 60,
               payload=seed, note="60 s ahead with leeway 60: age 0, so even max_age 0 loads"),
        decode("max-age-overflow", mp(seed), T0 + 10, 2**64 - 1, payload=seed,
               note="issued_at + max_age overflows u64: still only 10 s old"),
        decode("leeway-overflow", mp(seed), 2**62, 3600, issued_at=2**62 + 100,
               leeway=2**63 + 2**62, payload=seed,
               note="now + leeway overflows u64: 100 s ahead is within the leeway"),
        decode("no-expiry-old-token", mp(seed), T0, None, issued_at=0, payload=seed,
               note="max_age null: no-expiry mode, a token issued at the epoch loads"),
        decode("fallback-key", mp(seed), T0, 3600, secret=SECRET_B, sealing_secret=SECRET_A,
               fallback_secrets=[SECRET_A], payload=seed,
               note="ring [B, A]: a token under A opens with key_index 1"),
        decode("at-configured-maximum", mp(seed), T0, 3600, max_token_len=n * 4 // 3 + 1,
               payload=seed, note="the 103-character seed token against a maximum of 103"),
    ]

    encodes = [
        encode("typed-record", record_plaintext(), payload_type=RECORD_TYPE,
               note="fields in declaration order as str keys; f32 as float 32; none and unit as "
                    "nil; unit variant as its name; other variants as {name: data}; bytes as "
                    "bin; a sequence of u8 as an array"),
        encode("at-configured-maximum", mp(seed), payload=seed, max_token_len=103,
               note="the seed token is 103 characters"),
        encode("over-configured-maximum", mp(seed), payload=seed, max_token_len=102,
               error="TooLong"),
        encode("over-default-maximum", mp("x" * 6089), payload="x" * 6089, error="TooLong",
               note="one byte more than longest-default-token: 8194 characters"),
        encode("maximum-zero", mp(None), payload=None, max_token_len=0, error="TooLong"),
        encode("depth-129-arrays-innermost-empty", nested_arrays(128, b"\x90"),
               note="a decoder accepts it, so an encoder writes it"),
        encode("depth-129-arrays-around-scalar", nested_arrays(129, b"\x01"), error="TooDeep",
               note="a decoder would refuse it, so an encoder refuses to write it"),
        encode("depth-129-maps-around-scalar", nested_maps(129, b"\x01"), error="TooDeep"),
        # Numbers (SPEC.md 3.1): what a language with one number type writes for each number.
        encode("numbers-one-number-type", mp(ONE_NUMBER_TYPE), payload=ONE_NUMBER_TYPE,
               note="integral safe integers as integers; -0, fractions and integral numbers "
                    "beyond 2^53 - 1 as float 64: a one-number-type encoder writes each of these "
                    "numbers (as JSON.parse gives them) as here"),
        encode("float-negative-zero", mp([-0.0, 0.0, 0]), payload=[-0.0, 0.0, 0],
               note="-0.0 is float 64 with the sign bit, never the integer 0; the float 0.0 and "
                    "the integer 0 differ"),
        encode("integral-float-and-integer", mp([1.0, 1]), payload=[1.0, 1],
               note="by the JSON text: 1.0 is a float 64, 1 an integer; a one-number-type "
                    "language needs an explicit float 64 for the first (its plain number 1 is "
                    "written 01)"),
        encode("float-nan-and-infinities",
               b"\x93" + b"\xcb" + NAN_F64 + mp(float("-inf")) + mp(float("inf")),
               note="[NaN, -infinity, +infinity]: NaN is the quiet NaN 7ff8000000000000 "
                    "(no payload_json: JSON has no NaN or infinity)"),
    ]

    key_vectors = [
        keys("secret-31-bytes", [SECRET_SHORT], error="SecretTooShort"),
        keys("secret-32-bytes", [SECRET_A]),
        keys("empty-ring", [], error="EmptyKeyRing"),
        keys("same-secret-twice", [SECRET_A, SECRET_A], error="DuplicateKeyId"),
        keys("ring-of-two", [SECRET_B, SECRET_A], salt=b"password-reset",
             note="key ids name the secret whatever the salt; primary first"),
        keys("short-secret-after-duplicate", [SECRET_A, SECRET_A, SECRET_SHORT],
             error="SecretTooShort",
             note="several errors: a short secret is reported before a repeated key id "
                  "(SPEC.md 1.3)"),
    ]

    out = {
        "version": 1,
        "valid": valids,
        "invalid": invalids,
        "decode": decodes,
        "encode": encodes,
        "keys": key_vectors,
    }
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
