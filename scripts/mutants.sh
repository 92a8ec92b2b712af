#!/usr/bin/env bash
# Mutation testing of the core (issue 13): every mutant cargo-mutants makes in the files below
# must be caught by the tests (lib unit tests, core, hostile, vectors, alloc), or be listed as
# equivalent, with its argument, in .cargo/mutants.toml (`exclude_re`).
#
#     scripts/mutants.sh                    # the whole core
#     scripts/mutants.sh src/msgpack.rs     # some files only
#
# Fails if any mutant is missed. A mutant that times out (the tests never finish: a loop that no
# longer ends) is counted as noticed, and listed. Output: target/mutants/mutants.out/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
if [ "$(cargo mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
    cargo install cargo-mutants --version "$CARGO_MUTANTS_VERSION" --locked
fi

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(src/wire.rs src/header.rs src/msgpack.rs src/depth.rs src/seal.rs src/key.rs
        src/error.rs src/serializer.rs)
fi
file_args=()
for f in "${files[@]}"; do
    file_args+=(--file "$f")
done

# 2 cores: two mutants at a time (each in its own copy of the tree). The timeout is per mutant's
# test run; a build gets longer (the first build of each copy compiles every dev-dependency).
status=0
cargo mutants "${file_args[@]}" \
    --features hazmat \
    --jobs "${MUTANTS_JOBS:-2}" \
    --timeout "${MUTANTS_TIMEOUT:-180}" \
    --build-timeout "${MUTANTS_BUILD_TIMEOUT:-1200}" \
    --output target/mutants \
    -- --lib --test core --test hostile --test vectors --test alloc \
    || status=$?

out=target/mutants/mutants.out
for kind in caught missed unviable timeout; do
    printf '%-9s %s\n' "$kind" "$(wc -l < "$out/$kind.txt" 2>/dev/null || echo '?')"
done
if [ -s "$out/timeout.txt" ]; then
    echo "timed out (noticed: the tests did not finish):"
    cat "$out/timeout.txt"
fi
if [ -s "$out/missed.txt" ]; then
    echo "MISSED mutants (kill them with a test, or argue their equivalence in .cargo/mutants.toml):"
    cat "$out/missed.txt"
    exit 1
fi
# 0: all caught; 3: some timed out (listed above). Anything else: the baseline or a build failed.
case "$status" in
    0 | 3) exit 0 ;;
    *) echo "cargo mutants exited with $status" >&2; exit "$status" ;;
esac
