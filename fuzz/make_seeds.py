#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from the test vectors (tests/vectors/v1.json).

    python3 fuzz/make_seeds.py
"""
import base64
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
vectors = json.load(open(os.path.join(HERE, "..", "tests", "vectors", "v1.json")))


def b64decode(token):
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


for v in vectors["valid"]:
    n = v["name"]
    write("loads_str", n, v["token"])
    write("untrusted_header", n, v["token"])
    write("open_bytes", n, b64decode(v["token"]))
    write("authenticated_payload", n, bytes.fromhex(v["payload_msgpack_hex"]))
    write("key_from_base64", n, base64.b64encode(bytes.fromhex(v["secret_hex"])).decode())
    write("key_from_base64", n + "-url", base64.urlsafe_b64encode(bytes.fromhex(v["secret_hex"])).decode().rstrip("="))

for v in vectors["invalid"]:
    n = v["name"]
    if len(v["token"]) <= 4096:
        write("loads_str", n, v["token"])
        write("untrusted_header", n, v["token"])

hostile = {
    "deep-arrays": b"\x91" * 130 + b"\xc0",
    "deep-maps": b"\x81\xa1k" * 130 + b"\xc0",
    "str32": b"\xdb\xff\xff\xff\xff" + b"x" * 8,
    "map32": b"\xdf\x00\x00\x00\x02\xa1a\x01\xa1b\xc4\x02\x00\x01",
    "ext": b"\xd6\x01\x00\x00\x00\x00",
    "ext8": b"\xc7\x03\x05abc",
    "floats": b"\x92\xca\x3f\xc0\x00\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
    "ints": b"\x96\xcc\xff\xcd\xff\xff\xce\xff\xff\xff\xff\xcf" + b"\xff" * 8 + b"\xd3\x80" + b"\x00" * 7 + b"\xe0",
    "bad-utf8": b"\xa2\xff\xfe",
    "trailing": b"\xc0\xc0",
}
for name, data in hostile.items():
    write("authenticated_payload", name, data)

# roundtrip takes `arbitrary` input; any bytes are a valid seed.
write("roundtrip", "zeros", b"\x00" * 64)
write("roundtrip", "text", b"user-123\x00admin\x00read\x01write\x00" * 2)
