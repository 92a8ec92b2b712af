#!/usr/bin/env bash
# Mutation testing (issue 13): every mutant cargo-mutants makes in the files below must be
# caught by the tests, or be listed as equivalent, with its argument, in .cargo/mutants.toml
# (`exclude_re`). Two runs, each with the features and tests its files need:
#
#   core  the token format, framing check, depth limit, sealing, keys, errors and serializer,
#         against the unit tests and tests/{core,hostile,vectors,alloc,rotation}.rs;
#   session  the session core (src/session/{state,cookies,envelope,policy}.rs: the per-request
#         machine and its decisions, cookie parsing and chunking, the envelope, the policy's
#         checks), against its unit tests (the vectors of tests/vectors/sessions.json among
#         them), without features;
#   cli   the CLI's JSON mapping (src/bin/itsclassified/json.rs), against its unit tests;
#   ring  the AEAD under the `ring` backend (src/aead.rs and src/aead/ring.rs; the core run
#         mutates src/aead.rs and src/aead/rustcrypto.rs, the pure-Rust backend: one file a
#         backend, since a mutant in code its build does not compile would count as missed),
#         against the AEAD's unit tests, tests/aead_backends.rs and the vectors;
#   revocation  the in-memory revocation store (src/revocation/memory.rs: expiry, capacity,
#         the per-subject bound), against its unit tests.
#
#     scripts/mutants.sh                    # both runs, every file
#     scripts/mutants.sh src/msgpack.rs     # only these files (each in the run it belongs to)
#
# Fails if any mutant is missed. A mutant that times out (the tests never finish: a loop that no
# longer ends) is counted as noticed, and listed. Output: target/mutation/{core,session,cli,ring,revocation}/mutants.out/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
if [ "$(cargo mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
    cargo install cargo-mutants --version "$CARGO_MUTANTS_VERSION" --locked
fi

core_files=(src/wire.rs src/header.rs src/msgpack.rs src/depth.rs src/seal.rs src/key.rs
    src/error.rs src/serializer.rs src/aead.rs src/aead/rustcrypto.rs src/ring_cell.rs src/redact.rs)
core_features=hazmat,reload
core_tests=(--lib --test core --test hostile --test vectors --test alloc --test rotation)
# The session core needs no feature; its own unit tests (the vectors included) kill its
# mutants, so each mutant runs them only (`session::`), not every unit test of the crate.
session_files=(src/session/state.rs src/session/cookies.rs src/session/envelope.rs
    src/session/policy.rs)
session_features=reload
session_tests=(--lib session::)
cli_files=(src/bin/itsclassified/json.rs)
cli_features=cli
cli_tests=(--bin itsclassified)
ring_files=(src/aead.rs src/aead/ring.rs)
ring_features=ring,hazmat,reload
ring_tests=(--lib aead:: --test aead_backends --test vectors)
revocation_files=(src/revocation/memory.rs)
revocation_features=reload
revocation_tests=(--lib revocation::)

for f in "$@"; do
    case " ${core_files[*]} ${session_files[*]} ${cli_files[*]} ${ring_files[*]} ${revocation_files[*]} " in
        *" $f "*) ;;
        *) echo "mutants.sh: $f is in no run (core: ${core_files[*]}; session: ${session_files[*]}; cli: ${cli_files[*]}; ring: ${ring_files[*]}; revocation: ${revocation_files[*]})" >&2; exit 2 ;;
    esac
done

failed=0
# run NAME FEATURES FILES... -- TEST-ARGS...
run() {
    local name=$1 features=$2
    shift 2
    local file_args=()
    while [ "$1" != -- ]; do
        if [ "${#selected[@]}" -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; then
            file_args+=(--file "$1")
        fi
        shift
    done
    shift
    [ "${#file_args[@]}" -gt 0 ] || return 0
    echo "==> mutants: $name (features $features)"
    local out=target/mutation/$name status=0
    mkdir -p "$out"
    # 2 cores: two mutants at a time, each in its own copy of the tree. The test timeout is
    # cargo-mutants' own (a multiple of the unmutated tests' time); a build may take longer
    # (the first build of each copy compiles every dependency). Ignored files (python/target,
    # venvs, fuzz/target) are not copied: CI builds them before this step, gigabytes of them.
    cargo mutants "${file_args[@]}" \
        --gitignore=true \
        --features "$features" \
        --profile mutants \
        --jobs "${MUTANTS_JOBS:-2}" \
        --build-timeout "${MUTANTS_BUILD_TIMEOUT:-1200}" \
        --output "$out" \
        -- "$@" \
        || status=$?
    out=$out/mutants.out
    for kind in caught missed unviable timeout; do
        printf '    %-9s %s\n' "$kind" "$(wc -l < "$out/$kind.txt" 2>/dev/null || echo '?')"
    done
    if [ -s "$out/timeout.txt" ]; then
        echo "    timed out (noticed: the tests did not finish):"
        sed 's/^/      /' "$out/timeout.txt"
    fi
    if [ -s "$out/missed.txt" ]; then
        echo "    MISSED (kill them with a test, or argue their equivalence in .cargo/mutants.toml):"
        sed 's/^/      /' "$out/missed.txt"
        failed=1
        return 0
    fi
    # 0: all caught; 3: some timed out (listed above). Anything else: the baseline or a build
    # failed.
    case "$status" in
        0 | 3) ;;
        *) echo "    cargo mutants exited with $status" >&2; failed=1 ;;
    esac
}

selected=("$@")
run core "$core_features" "${core_files[@]}" -- "${core_tests[@]}"
run session "$session_features" "${session_files[@]}" -- "${session_tests[@]}"
run cli "$cli_features" "${cli_files[@]}" -- "${cli_tests[@]}"
run ring "$ring_features" "${ring_files[@]}" -- "${ring_tests[@]}"
run revocation "$revocation_features" "${revocation_files[@]}" -- "${revocation_tests[@]}"
exit "$failed"
