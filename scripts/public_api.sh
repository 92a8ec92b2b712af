#!/usr/bin/env bash
# The crate's public API (all features), one line an item, recorded in scripts/public-api.txt so
# that a change to a public name, signature, field, variant or trait impl is a visible decision.
#
#   scripts/public_api.sh           # check: fails with the diff if the API differs from the file
#   scripts/public_api.sh --bless   # rewrite scripts/public-api.txt; review and commit its diff
#
# How: rustdoc's JSON output (unstable, so RUSTC_BOOTSTRAP=1 lets the machine's stable toolchain
# write it; no nightly and no tool to install) read by scripts/public_api.py. The JSON format
# changes between Rust releases: after a toolchain update, a diff in this file with no source
# change is the format's; --bless it, or update public_api.py if it fails to read the format.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
case "${1:-}" in
  "") ;;
  --bless) mode=bless ;;
  *) echo "usage: scripts/public_api.sh [--bless]" >&2; exit 2 ;;
esac

record=scripts/public-api.txt
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
json="$target_dir/doc/itsclassified.json"
rm -f "$json"

echo "==> rustdoc JSON ($(rustc --version), RUSTC_BOOTSTRAP=1)"
RUSTC_BOOTSTRAP=1 cargo rustdoc --lib --all-features --locked --quiet -- \
  -Z unstable-options --output-format json
test -s "$json" || { echo "FAILED: rustdoc wrote no $json" >&2; exit 1; }

current="$(mktemp)"
trap 'rm -f "$current"' EXIT
python3 scripts/public_api.py "$json" >"$current"
# An empty or tiny listing means the reader lost its way, not that the API is gone.
lines="$(wc -l <"$current")"
if [ "$lines" -lt 10 ]; then
  echo "FAILED: scripts/public_api.py printed only $lines lines" >&2
  exit 1
fi

if [ "$mode" = bless ]; then
  cp "$current" "$record"
  echo "==> wrote $record ($lines lines); review 'git diff $record' and commit it"
  exit 0
fi

if diff -u --label "$record (committed)" --label "public API (this tree)" "$record" "$current"; then
  echo "==> public API matches $record ($lines lines)"
else
  echo
  echo "FAILED: the public API differs from $record (diff above: - committed, + now)."
  echo "If the change is intended, run: scripts/public_api.sh --bless"
  echo "and commit $record with the change, so the review sees the API diff."
  exit 1
fi
