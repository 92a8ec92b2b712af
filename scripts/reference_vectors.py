#!/usr/bin/env python3
"""Independent reference implementation of the itsclassified v1 wire format (SPEC.md).

Writes tests/vectors/v1.json. It shares no code with the Rust crate: HKDF-SHA256 from the
standard library's hmac, XChaCha20-Poly1305 from libsodium (PyNaCl), MessagePack from the
msgpack package. The Rust test `tests/vectors.rs` checks the crate against its output byte for
byte, so the two implementations check each other.

    pip install pynacl==1.5.0 msgpack==1.1.0   # any recent versions
    python3 scripts/reference_vectors.py > tests/vectors/v1.json
"""
import base64
import hashlib
import hmac
import json
import struct

import msgpack
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as xchacha_encrypt

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


def valid(name, secret, salt, issued_at, nonce, payload, note=""):
    plaintext = msgpack.packb(payload, use_bin_type=True)
    kid, _ = derive(secret, salt)
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "key_id": f"{kid:08x}",
        "issued_at": issued_at,
        "nonce_hex": nonce.hex(),
        "payload_json": payload,
        "payload_msgpack_hex": plaintext.hex(),
        "token": seal(secret, salt, issued_at, nonce, plaintext),
    }


def invalid(name, token, error, secret=SECRET_A, salt=b"session", now=T0, max_age=3600, note=""):
    return {
        "name": name,
        "note": note,
        "secret_hex": secret.hex(),
        "salt_hex": salt.hex(),
        "now": now,
        "max_age": max_age,
        "token": token,
        "error": error,
    }


def flip(token_raw, index):
    raw = bytearray(token_raw)
    raw[index] ^= 0x01
    return b64(bytes(raw))


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
    ]

    good = seal_raw(SECRET_A, b"session", T0, NONCE_1, msgpack.packb(seed))
    good_b64 = b64(good)
    n = len(good)

    def authentic(plaintext, issued_at=T0):
        return seal(SECRET_A, b"session", issued_at, NONCE_1, plaintext)

    invalids = [
        invalid("flipped-version-bit", flip(good, 0), "UnsupportedVersion"),
        invalid("version-2", seal(SECRET_A, b"session", T0, NONCE_1, msgpack.packb(seed), version=2),
                "UnsupportedVersion", note="a well-formed token of a version this release does not read"),
        invalid("version-0", b64(b"\x00" + good[1:]), "UnsupportedVersion"),
        invalid("unknown-key-id", flip(good, 4), "UnknownKey"),
        invalid("other-secret", seal(SECRET_B, b"session", T0, NONCE_1, msgpack.packb(seed)),
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
        invalid("issued-in-future", authentic(msgpack.packb(seed), issued_at=T0 + 61), "IssuedInFuture",
                note="61 s ahead, default leeway 60 s"),
        invalid("trailing-bytes", authentic(msgpack.packb(seed) + b"\xc0"), "Payload",
                note="authentic, but the plaintext holds two values"),
        invalid("reserved-marker", authentic(b"\xc1"), "Payload"),
        invalid("empty-plaintext", authentic(b""), "Payload"),
        invalid("deep-nesting", authentic(b"\x91" * 200 + b"\xc0"), "Payload",
                note="200 nested arrays: over the depth limit of 128"),
        invalid("absurd-str32", authentic(b"\xdb\xff\xff\xff\xff" + b"x" * 8), "Payload",
                note="a 4 GiB length prefix on 8 bytes"),
        invalid("absurd-array32", authentic(b"\xdd\xff\xff\xff\xff\xc0"), "Payload"),
        invalid("wrong-type", authentic(msgpack.packb([1, 2, 3])), "Payload",
                note="an array where the session struct is expected"),
    ]
    json.dump({"version": 1, "valid": valids, "invalid": invalids}, fp=__import__("sys").stdout,
              indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
