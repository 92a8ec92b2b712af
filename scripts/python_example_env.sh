#!/usr/bin/env bash
# The virtual environment the Python example services run in (python/examples/*.py), for
# scripts/conformance.sh: created once in $CARGO_TARGET_DIR/example-venv (target/ by default),
# with the package installed as a user installs it (`pip install "./python[starlette,flask,redis]"`)
# and the pinned servers of python/requirements-test.txt. Reused while the package's sources are
# unchanged (a hash of them is kept beside it); rebuilt when they change. Prints the
# environment's python on its last line.
#
#     scripts/python_example_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
venv=$target/example-venv

# What the installed package is built from.
stamp=$(find python/src python/itsclassified python/Cargo.toml python/Cargo.lock python/pyproject.toml \
    src Cargo.toml -type f -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
stamp+=-$(sha256sum python/requirements-test.txt | cut -d' ' -f1)

if [[ -x $venv/bin/python && -f $venv/.stamp && "$(cat "$venv/.stamp")" == "$stamp" ]]; then
    echo "python_example_env: $venv is up to date" >&2
else
    echo "python_example_env: installing ./python[starlette,flask,redis] into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "./python[starlette,flask,redis]" -r python/requirements-test.txt >&2
    echo "$stamp" >"$venv/.stamp"
fi
echo "$venv/bin/python"
