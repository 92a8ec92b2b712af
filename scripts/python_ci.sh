#!/usr/bin/env bash
# The Python package (python/) as CI checks it: build the abi3 wheel with maturin (in a build
# environment of its own), install that wheel with every extra ([starlette,flask,redis]) and the
# pinned test requirements into a fresh virtual environment, check that the tests import the
# installed package (not the source tree), build the crate's CLI, python/tests/rust_helper and the
# axum example for the cross-language tests, and run pytest. Fails when pytest fails or collects
# no tests.
#
#     bash scripts/python_ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$SECONDS

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
venv=$target/python-venv
build_venv=$target/python-build-venv
wheels=$target/wheels

step() { printf '\n--> %s (%ss)\n' "$*" "$((SECONDS - start))"; }

step "maturin (pyproject's build requirement) in $build_venv"
if [[ ! -x $build_venv/bin/maturin ]]; then
    rm -rf "$build_venv"
    python3 -m venv "$build_venv"
    "$build_venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
fi

step "the abi3 wheel: maturin build --release"
rm -rf "$wheels"
"$build_venv/bin/maturin" build --release --locked --manifest-path python/Cargo.toml --out "$wheels" >&2
wheel=$(ls "$wheels"/itsclassified-*-abi3-*.whl)
printf 'wheel: %s, %s bytes\n' "$(basename "$wheel")" "$(stat -c %s "$wheel")"

step "fresh virtual environment in $venv: the wheel with [starlette,flask,redis], and the test requirements"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$wheel[starlette,flask,redis]" -r python/requirements-test.txt
installed=$(cd / && "$venv/bin/python" -c 'import itsclassified._itsclassified as m; print(m.__file__)')
case $installed in
"$venv"/*) echo "the tests import $installed" ;;
*)
    echo "python_ci.sh: itsclassified imports from $installed, not from the installed wheel" >&2
    exit 1
    ;;
esac

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

step "the crate's CLI (--features cli), the Rust test helper and the axum example"
cli=$(built itsclassified --features cli --bin itsclassified)
# In the crate's target directory: the crates both builds share are compiled once.
helper=$(built rust_helper --manifest-path python/tests/rust_helper/Cargo.toml --target-dir "$target")
axum_api=$(built axum_api --example axum_api --all-features)
test -x "$cli" && test -x "$helper" && test -x "$axum_api"

step "mypy: the package (with its .pyi stubs of the native module) and the examples"
(cd python && "$venv/bin/mypy" --no-incremental itsclassified examples)

step "pytest"
log=$target/python-pytest.log
status=0
# $venv/bin/pytest, not `python -m pytest`: the working directory (python/, the source tree) is
# then not on sys.path, and the tests run against the installed wheel.
(cd python && ITSCLASSIFIED_CLI=$cli ITSCLASSIFIED_RUST_HELPER=$helper ITSCLASSIFIED_AXUM_API=$axum_api \
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
