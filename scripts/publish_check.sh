#!/usr/bin/env bash
# Is the crate publishable as it stands? Fails, saying what to do, on any of:
#   1. the files `cargo package` would ship differ from scripts/package-files.txt;
#   2. `cargo publish --dry-run --locked` fails (it builds the packaged crate on its own);
#   3. the declared rust-version is contradicted where it can be checked (scripts/rust_version.sh);
#   4. the public API (all features) differs from scripts/public-api.txt (scripts/public_api.sh).
#
#   scripts/publish_check.sh           # check (what .ci/run calls)
#   scripts/publish_check.sh --bless   # rewrite package-files.txt and public-api.txt; review
#                                      # `git diff scripts/` and commit them
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
case "${1:-}" in
  "") ;;
  --bless) mode=bless ;;
  *) echo "usage: scripts/publish_check.sh [--bless]" >&2; exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }
status=0

# ---- 1. the file list ------------------------------------------------------------------------
# What a clean clone of this commit would package: `--allow-dirty` lets the list be read in a
# tree with uncommitted edits, and files git does not track (a dev's scratch file under src/,
# say) are left out of the comparison and named, since a clean clone would not have them.
# Cargo writes .cargo_vcs_info.json and Cargo.toml.orig itself.
step "files in the package (cargo package --list) against scripts/package-files.txt"
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
if ! listed="$(cargo package --list --allow-dirty --locked 2>"$err")"; then
  cat "$err"
  echo "FAILED: cargo package --list"
  exit 1
fi
listed="$(echo "$listed" | LC_ALL=C sort)"
generated=$'.cargo_vcs_info.json\nCargo.toml.orig'
tracked="$( (git ls-files; echo "$generated") | LC_ALL=C sort -u)"
package_files="$(LC_ALL=C comm -12 <(echo "$listed") <(echo "$tracked"))"
untracked="$(LC_ALL=C comm -23 <(echo "$listed") <(echo "$tracked"))"
if [ -n "$untracked" ]; then
  echo "note: not tracked by git, so not compared (a clean clone would not package them):"
  echo "$untracked" | sed 's/^/  /'
fi
if [ "$mode" = bless ]; then
  echo "$package_files" >scripts/package-files.txt
  echo "wrote scripts/package-files.txt ($(wc -l <scripts/package-files.txt) files)"
elif diff -u --label "scripts/package-files.txt (committed)" --label "cargo package --list" \
    scripts/package-files.txt <(echo "$package_files"); then
  echo "the package holds the $(wc -l <scripts/package-files.txt) recorded files"
else
  echo "FAILED: the package's files differ from scripts/package-files.txt (- recorded, + now)."
  echo "Ship only what a user needs: fix 'include' in Cargo.toml, or, if the change is meant,"
  echo "run scripts/publish_check.sh --bless and commit scripts/package-files.txt."
  status=1
fi

# ---- 2. the dry run --------------------------------------------------------------------------
# Builds the packaged crate alone (lib and default features) against the index of crates.io.
step "cargo publish --dry-run --locked"
dirty=()
if [ -n "$(git status --porcelain)" ]; then
  echo "note: the work tree has uncommitted changes: packaging it as it is (--allow-dirty)"
  dirty=(--allow-dirty)
fi
if ! cargo publish --dry-run --locked "${dirty[@]}"; then
  echo "FAILED: cargo publish --dry-run (output above): the packaged crate does not build alone."
  echo "A file it needs may be missing from 'include' in Cargo.toml."
  status=1
fi

# ---- 3. rust-version -------------------------------------------------------------------------
step "rust-version"
if ! scripts/rust_version.sh; then
  status=1
fi

# ---- 4. the public API -----------------------------------------------------------------------
step "public API"
if [ "$mode" = bless ]; then
  scripts/public_api.sh --bless
elif ! scripts/public_api.sh; then
  status=1
fi

if [ "$status" -ne 0 ]; then
  printf '\nFAILED: scripts/publish_check.sh (see the FAILED lines above)\n'
fi
exit "$status"
