#!/usr/bin/env bash
# Regenerates the test vectors with the independent Python implementations and fails if they
# differ from tests/vectors/v1.json (scripts/reference_vectors.py, SPEC.md sections 1-8) or
# tests/vectors/sessions.json (scripts/reference_sessions.py, SPEC.md section 10), so the
# vectors cannot drift from their source.
#
#     bash scripts/check_vectors.sh
#
# Installs pinned PyNaCl (libsodium) and msgpack from PyPI into a throwaway virtualenv under the
# cargo target directory (never committed); needs python3 with the venv module.
set -euo pipefail
cd "$(dirname "$0")/.."

PYNACL_VERSION=1.6.2
MSGPACK_VERSION=1.1.2

target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/vectors-venv"
stamp="$venv/.installed-pynacl-$PYNACL_VERSION-msgpack-$MSGPACK_VERSION"

if [ ! -e "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
        "pynacl==$PYNACL_VERSION" "msgpack==$MSGPACK_VERSION"
    touch "$stamp"
fi

generated="$(mktemp)"
trap 'rm -f "$generated" "$generated.diff"' EXIT

# check <generator> <vectors file>: regenerates the file and fails if it differs.
check() {
    local script="$1" file="$2"
    "$venv/bin/python" "$script" >"$generated"
    if ! diff -u "$file" "$generated" >"$generated.diff"; then
        echo "$file differs from what $script writes:" >&2
        head -n 200 "$generated.diff" >&2
        echo "Regenerate with: $venv/bin/python $script > $file" >&2
        exit 1
    fi
    echo "$file matches $script ($(grep -c '"name"' "$file") vectors)"
}

check scripts/reference_vectors.py tests/vectors/v1.json
check scripts/reference_sessions.py tests/vectors/sessions.json
