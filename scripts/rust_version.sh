#!/usr/bin/env bash
# Checks the `rust-version` declared in Cargo.toml in the ways this machine allows. CI has one
# toolchain (the machine's stable, installed by rustup) and cannot install another, so an older
# declared version cannot be compiled with here. What this checks:
#   1. no dependency a user builds (normal and build dependencies, default features and all
#      features, every target platform, as Cargo.lock resolves them) declares a higher
#      rust-version;
#   2. the toolchain running this is not older than the declaration;
#   3. if the toolchain is the declared version, the rest of .ci/run (and the publish dry run)
#      compiles and tests the crate with exactly that version: the declaration is verified;
#      if it is newer, clippy's `incompatible_msrv` lint is forbidden over every target and
#      feature: std APIs (functions, methods, types) stabilized after the declared version fail
#      the check. Language features (syntax, const evaluation, inference, lints that became
#      errors) newer than the declared version are then NOT checked: the script says so.
# Development dependencies are not checked: they do not build for a user.
set -euo pipefail
cd "$(dirname "$0")/.."

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT
cargo metadata --format-version 1 --locked --all-features >"$meta"
declared="$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
root = m["resolve"]["root"]
print(next(p["rust_version"] or "" for p in m["packages"] if p["id"] == root))' "$meta")"
if [ -z "$declared" ]; then
  echo "FAILED: Cargo.toml declares no rust-version"
  exit 1
fi
toolchain="$(rustc --version | awk '{print $2}')"
toolchain="${toolchain%%-*}"
echo "declared rust-version $declared; toolchain rustc $toolchain"

status=0
# 1. The dependencies' own rust-version, over what a user builds.
for features in "" "--all-features"; do
  cargo tree --locked -e normal,build --target all $features --prefix none --format '{p}' |
    awk 'NF {print $1, $2}' | sort -u |
    python3 -c '
import json, sys
meta, declared, label = sys.argv[1], sys.argv[2], sys.argv[3]
key = lambda v: tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
rv = {(p["name"], "v" + p["version"]): p["rust_version"] for p in json.load(open(meta))["packages"]}
rows, unknown = [], []
for line in sys.stdin:
    name, version = line.split()
    if (name, version) not in rv:
        unknown.append(f"{name} {version}")
    elif rv[(name, version)] and name != "itsclassified":
        rows.append((key(rv[(name, version)]), rv[(name, version)], name, version))
if unknown:
    sys.exit(f"FAILED: cargo tree lists packages cargo metadata does not know: {unknown}")
rows.sort()
top = rows[-1]
too_new = [r for r in rows if r[0] > key(declared)]
print(f"{label}: {len(rows)} of the dependencies declare a rust-version; highest {top[1]} ({top[2]} {top[3]})")
for r in too_new:
    print(f"FAILED: {r[2]} {r[3]} needs Rust {r[1]}, above the declared {declared}")
sys.exit(1 if too_new else 0)' "$meta" "$declared" "${features:-default features}" || status=1
done

# 2. and 3. The toolchain: older, the same release (major.minor), or newer.
relation="$(python3 -c '
import sys
parse = lambda v: [int(x) for x in (v.split(".") + ["0", "0"])[:3]]
t, d = parse(sys.argv[1]), parse(sys.argv[2])
print("older" if t < d else "same" if t[:2] == d[:2] else "newer")' "$toolchain" "$declared")"
if [ "$relation" = older ]; then
  echo "FAILED: rustc $toolchain is older than the declared rust-version $declared"
  status=1
elif [ "$relation" = same ]; then
  echo "rust-version $declared is the toolchain CI builds and tests with: verified by compiling"
else
  echo "rustc $toolchain is newer than the declared $declared: std APIs checked by clippy"
  echo "(incompatible_msrv, forbidden), language features NOT checked (no Rust $declared here)"
  if ! cargo clippy --locked --all-targets --all-features --keep-going --quiet -- \
      -F clippy::incompatible_msrv; then
    echo "FAILED: an API newer than the declared rust-version $declared is used (above):"
    echo "raise rust-version in Cargo.toml, or do without the API"
    status=1
  fi
fi
exit "$status"
