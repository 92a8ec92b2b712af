#!/usr/bin/env bash
# The JavaScript package (js/): npm ci, npm test (every vector, a real redis-server, the Rust
# CLI cross-checks when cargo is there), and npm pack --dry-run to check the package's files.
#
#     bash scripts/js_ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }

if ! command -v node >/dev/null 2>&1; then
    echo "js_ci: node is not installed (Node >= 20.19 is needed)" >&2
    exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
    step "redis-server for the store tests (apt-get when missing)"
    scripts/install_redis.sh
fi

start=$SECONDS
step "npm ci (js/)"
npm ci --prefix js --no-audit --no-fund

step "npm test (js/)"
npm test --prefix js

step "npm pack --dry-run (js/): the package's files"
files=$(cd js && npm pack --dry-run --json | python3 -c 'import json,sys; print("\n".join(sorted(f["path"] for f in json.load(sys.stdin)[0]["files"])))')
echo "$files"
# The package ships its code, types and README, and nothing of the tests, bench or example.
for must in index.js index.d.ts package.json README.md src/serializer.js src/session.js; do
    grep -qx "$must" <<<"$files" || { echo "js_ci: $must is missing from the package" >&2; exit 1; }
done
if grep -E '^(test|examples|node_modules)/|bench' <<<"$files"; then
    echo "js_ci: the package holds files it should not" >&2
    exit 1
fi

echo "js_ci: $((SECONDS - start)) s"
