#!/usr/bin/env bash
# The black-box conformance suite (conformance/contract.py, shared/example-contract.md) against
# every door's example service: each door alone, and pairs of instances through one Redis.
#
#     bash scripts/conformance.sh                 # the doors and pairs below
#     DOORS="axum" PAIRS="axum+axum" bash scripts/conformance.sh
#     DOORS="actix" PAIRS="actix+axum axum+actix" bash scripts/conformance.sh
#     DOORS="fastapi" PAIRS="fastapi+axum axum+fastapi" bash scripts/conformance.sh
#     DOORS="flask" PAIRS="flask+axum axum+flask" bash scripts/conformance.sh
#
# Each door is built once (its build command below), then:
#   - alone, with REDIS_URL (a redis-server the suite starts) and with the in-process store;
#   - paired: "X+Y" starts X's command as instance A and Y's as B, same keys, one Redis.
# A new door plugs in with a line in each table; the suite itself needs only python3.
# First the suite tests itself against conformance/fake_door.py (a stdlib stand-in that follows
# the contract; SELFTEST=0 skips it): a failure there is the suite's bug, not a door's.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}

# door -> build command (run once, before any suite run that needs it)
declare -A BUILD=(
    [axum]="cargo build --locked --example axum_api --all-features"
    [js]="npm ci --prefix js --no-audit --no-fund"
    # The package installed into a venv (scripts/python_example_env.sh), as a user installs it.
    [fastapi]="scripts/python_example_env.sh"
    [flask]="scripts/python_example_env.sh"
    # --all-features, as for axum: one build of the library serves both examples.
    [actix]="cargo build --locked --example actix_api --all-features"
)
# door -> start command (from the repository root; the suite adds PORT, keys, REDIS_URL)
declare -A START=(
    [axum]="$target/debug/examples/axum_api"
    [js]="node js/examples/server.mjs"
    [fastapi]="$target/example-venv/bin/python python/examples/fastapi_app.py"
    [flask]="$target/example-venv/bin/python python/examples/flask_app.py"
    [actix]="$target/debug/examples/actix_api"
)

DOORS=${DOORS:-axum actix js fastapi flask}
PAIRS=${PAIRS:-axum+axum actix+axum axum+actix js+axum axum+js fastapi+axum axum+fastapi flask+axum axum+flask}

step() { printf '\n--> %s\n' "$*"; }

# The doors to build: those run alone and both sides of each pair, once each.
declare -A needed=()
for door in $DOORS; do needed[$door]=1; done
for pair in $PAIRS; do
    needed[${pair%%+*}]=1
    needed[${pair##*+}]=1
done
for door in "${!needed[@]}"; do
    if [[ -z "${START[$door]:-}" ]]; then
        echo "conformance: unknown door '$door' (known: ${!START[*]})" >&2
        exit 2
    fi
done

if ! command -v redis-server >/dev/null 2>&1; then
    step "redis-server (apt-get when missing)"
    scripts/install_redis.sh
fi

for door in "${!needed[@]}"; do
    if [[ -n "${BUILD[$door]:-}" ]]; then
        step "build $door: ${BUILD[$door]}"
        ${BUILD[$door]}
    fi
done

start=$SECONDS
failed=()
run() {
    local label=$1
    shift
    step "conformance: $label"
    if ! python3 conformance/contract.py "$@"; then
        failed+=("$label")
    fi
}

if [[ "${SELFTEST:-1}" != 0 ]]; then
    run "suite self-test: fake door alone" --door fake -- python3 conformance/fake_door.py
    run "suite self-test: fake door paired" --door fake --paired -- python3 conformance/fake_door.py
fi
for door in $DOORS; do
    # shellcheck disable=SC2086 # the start command is split into words on purpose
    run "$door alone (Redis)" --door "$door" -- ${START[$door]}
    # shellcheck disable=SC2086
    run "$door alone (in-process store)" --door "$door" --store memory -- ${START[$door]}
done
for pair in $PAIRS; do
    a=${pair%%+*}
    b=${pair##*+}
    # shellcheck disable=SC2086
    run "$a+$b paired (Redis)" --door "$a" --paired --peer-door "$b" --peer-cmd "${START[$b]}" \
        -- ${START[$a]}
done

echo
echo "conformance: $((SECONDS - start)) s of suite runs"
if ((${#failed[@]})); then
    printf 'conformance: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "conformance: every run passed"
