#!/usr/bin/env bash
# The Python package (python/, issue 14) as CI checks it: build and install it with pip into a
# fresh virtual environment, as a user would (`pip install ./python`), with the pinned test
# requirements, build the crate's CLI and python/tests/rust_helper for the cross-language tests,
# and run pytest. Fails when pytest fails or collects no tests.
#
#     bash scripts/python_ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$SECONDS

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
venv=$target/python-venv

step() { printf '\n--> %s (%ss)\n' "$*" "$((SECONDS - start))"; }

step "fresh virtual environment in $venv"
rm -rf "$venv"
python3 -m venv "$venv"

step "pip install ./python (maturin from the build requirements) and the test requirements"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    ./python -r python/requirements-test.txt

# The path of a binary cargo builds, from its JSON messages.
built() {
    local name=$1
    shift
    cargo build --locked --message-format=json "$@" |
        "$venv/bin/python" -c '
import json, sys
name = sys.argv[1]
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == name:
        print(msg["executable"])
' "$name"
}

step "the crate's CLI (--features cli) and the Rust test helper"
cli=$(built itsclassified --features cli --bin itsclassified)
# In the crate's target directory: the crates both builds share are compiled once.
helper=$(built rust_helper --manifest-path python/tests/rust_helper/Cargo.toml --target-dir "$target")
test -x "$cli" && test -x "$helper"

step "pytest"
log=$target/python-pytest.log
status=0
(cd python && ITSCLASSIFIED_CLI=$cli ITSCLASSIFIED_RUST_HELPER=$helper \
    "$venv/bin/pytest" -q -p no:cacheprovider tests) >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$log"
fi
printf '\npytest: %s\n' "$(tail -n 1 "$log")"
printf 'python_ci.sh: %ss\n' "$((SECONDS - start))"
if [ "$status" -eq 5 ]; then
    echo "python_ci.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
