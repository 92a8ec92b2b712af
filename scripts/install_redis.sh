#!/usr/bin/env bash
# Installs what tests/revocation.rs starts: Debian's redis-server (/usr/bin/redis-server), run
# by the test itself on a free loopback port, without persistence. Does nothing when present.
#
#     scripts/install_redis.sh
#
# CI runs as root and installs it; on a developer machine without root this says what to run
# (the Redis tests skip with a printed reason when CI is not set and redis-server is missing).
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "install_redis: $(command -v redis-server) is present: $(redis-server --version)"
    exit 0
fi

cmd=(apt-get install -y --no-install-recommends redis-server)
if [[ "$(id -u)" -ne 0 ]]; then
    echo "install_redis: redis-server is missing; as root, run:" >&2
    echo "    apt-get update && ${cmd[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
"${cmd[@]}"
# The Debian package starts a system-wide server on port 6379 where an init system runs; the
# test never uses it (it starts its own on a free port).
redis-server --version
