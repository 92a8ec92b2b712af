#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run as a Markdown table, with ratios.

Reads target/criterion/<group>/<bench>/new/estimates.json (criterion's own output) and, for
each group, divides every median by the group's baseline: "limit (hand-built v1)" in the
seal/open groups, "success (for scale)" in reject, the first entry elsewhere.

    cargo bench && python3 scripts/bench_table.py
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "criterion")
rows = {}
for dirpath, _dirs, files in os.walk(root):
    if "estimates.json" in files and os.path.basename(dirpath) == "new":
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        group = meta["group_id"]
        name = meta["function_id"] or ""
        if meta.get("value_str"):
            name = f"{name} {meta['value_str']}".strip()
        rows.setdefault(group, []).append((name, est["median"]["point_estimate"]))


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def order(group):
    kind, _, size = group.partition("/")
    sizes = {"seed": 0, "1KiB": 1, "16KiB": 2}
    kinds = {"seal": 0, "open": 1}
    return (kinds.get(kind, 2), sizes.get(size, 3), group)


for group in sorted(rows, key=order):
    entries = rows[group]
    base = None
    for name, ns in entries:
        if name in ("limit (hand-built v1)", "success (for scale)"):
            base = (name, ns)
    if base is None:
        base = sorted(entries)[0]
    print(f"\n| {group} | median | ÷ {base[0]} |\n|---|---:|---:|")
    for name, ns in sorted(entries, key=lambda e: e[1]):
        print(f"| {name} | {fmt(ns)} | {ns / base[1]:.2f} |")
