"""Interleaved benchmark: itsclassified vs itsdangerous URLSafeTimedSerializer vs cryptography's
Fernet on the seed session dict, in one process.

    python python/bench.py [--rounds 31] [--batch 5000]

Each round times a batch of every (library, operation) pair in a rotating order, so a change in
machine load hits all of them alike; the table gives the median time per operation over the
rounds and each library's speed relative to itsdangerous (higher is faster). itsdangerous only
signs (anyone can read the payload); Fernet and itsclassified encrypt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

# Run as `python python/bench.py`, this file's folder would come first on sys.path and its
# itsclassified/ source folder (without the built module) would shadow the installed package.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

from cryptography.fernet import Fernet  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402

import itsclassified  # noqa: E402

SEED = {"user_id": "123", "role": "admin"}
MAX_AGE = 3600


def contenders() -> Dict[str, Tuple[Callable[[], str], Callable[[], object], int]]:
    """name -> (dumps, loads, token length)."""
    ic = itsclassified.TimedSerializer(itsclassified.generate_key(), salt="session", max_age=MAX_AGE)
    ic_token = ic.dumps(SEED)

    idg = URLSafeTimedSerializer(os.urandom(32).hex(), salt="session")
    idg_token = idg.dumps(SEED)

    fernet = Fernet(Fernet.generate_key())
    fernet_token = fernet.encrypt(json.dumps(SEED).encode())

    return {
        "itsclassified": (lambda: ic.dumps(SEED), lambda: ic.loads(ic_token), len(ic_token)),
        "itsdangerous": (lambda: idg.dumps(SEED), lambda: idg.loads(idg_token, max_age=MAX_AGE), len(idg_token)),
        "Fernet": (
            lambda: fernet.encrypt(json.dumps(SEED).encode()).decode(),
            lambda: json.loads(fernet.decrypt(fernet_token, ttl=MAX_AGE)),
            len(fernet_token),
        ),
    }


def check(funcs: Dict[str, Tuple[Callable[[], str], Callable[[], object], int]]) -> None:
    for name, (_, loads, _) in funcs.items():
        assert loads() == SEED, name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()

    funcs = contenders()
    check(funcs)
    pairs: List[Tuple[str, str, Callable[[], object]]] = [
        (name, op, fn) for name, (dumps, loads, _) in funcs.items() for op, fn in (("dumps", dumps), ("loads", loads))
    ]
    for _, _, fn in pairs:  # warm-up
        for _ in range(args.batch // 4):
            fn()
    samples: Dict[Tuple[str, str], List[float]] = {(n, o): [] for n, o, _ in pairs}
    for r in range(args.rounds):
        order = pairs[r % len(pairs):] + pairs[: r % len(pairs)]
        for name, op, fn in order:
            t0 = time.perf_counter_ns()
            for _ in range(args.batch):
                fn()
            samples[(name, op)].append((time.perf_counter_ns() - t0) / args.batch / 1000)

    median = {key: statistics.median(values) for key, values in samples.items()}
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {args.rounds} rounds x {args.batch} "
        f"operations, load average {' '.join(f'{x:.2f}' for x in load)}"
    )
    print()
    print("| Library | Token length | dumps (µs) | loads (µs) | dumps vs itsdangerous | loads vs itsdangerous |")
    print("|---|---:|---:|---:|---:|---:|")
    base_d, base_l = median[("itsdangerous", "dumps")], median[("itsdangerous", "loads")]
    for name, (_, _, length) in funcs.items():
        d, lo = median[(name, "dumps")], median[(name, "loads")]
        print(f"| {name} | {length} | {d:.2f} | {lo:.2f} | {base_d / d:.2f}x | {base_l / lo:.2f}x |")
    ic_d = base_d / median[("itsclassified", "dumps")]
    ic_l = base_l / median[("itsclassified", "loads")]
    met = ic_d >= 2 and ic_l >= 2
    print()
    print(f"target (itsclassified dumps and loads >= 2x itsdangerous): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
