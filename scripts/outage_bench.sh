#!/usr/bin/env bash
# What a Redis stall costs the axum example (issue 24): wrk on `GET /me` with a valid bearer
# token, before, during (redis-server stopped with SIGSTOP) and after (SIGCONT) a stall of
# SECONDS (default 4). Prints requests/s, p50, p99 and the non-2xx answers (503s during the
# stall) of each phase as Markdown. The example and redis-server are started here on free
# loopback ports and killed on exit; everything is bounded in time.
#
#   scripts/outage_bench.sh            # release build of the example, 4 s a phase
#   scripts/outage_bench.sh 2
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-4}"
connections="${OUTAGE_BENCH_CONNECTIONS:-16}"
features="${OUTAGE_BENCH_FEATURES:-axum,reload,redis}"
target_dir="${CARGO_TARGET_DIR:-target}"

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v redis-server >/dev/null 2>&1 || scripts/install_redis.sh

echo "==> building examples/axum_api.rs (release, features $features)"
cargo build --release --locked --example axum_api --features "$features"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; exit 1
}

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!; pids+=("$redis_pid")
wait_port "$redis_port"

port="$(free_port)"
key="$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())')"
PORT="$port" ITSCLASSIFIED_KEYS="$key" REDIS_URL="redis://127.0.0.1:$redis_port" \
  "$target_dir/release/examples/axum_api" >"$work/server.log" 2>&1 &
pids+=("$!")
wait_port "$port"
token="$(python3 - "$port" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("POST", "/login", json.dumps({"user_id": "bench", "role": "admin"}), {"content-type": "application/json"})
print(json.loads(c.getresponse().read())["token"])
PY
)"

# run PHASE: one wrk run on /me; prints "rps p50 p99 non2xx".
run() {
  local out="$work/wrk-$1.txt"
  wrk -t1 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/me" >"$out"
  awk '/^Requests\/sec:/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /Non-2xx or 3xx responses:/ {bad=$5}
       END {if (bad == "") bad = 0; print rps, p50, p99, bad}' "$out"
}

echo "==> wrk -t1 -c$connections -d${seconds}s --latency on GET /me, three phases"
read -r r1 a1 b1 n1 < <(run before)
kill -STOP "$redis_pid"
read -r r2 a2 b2 n2 < <(run during)
kill -CONT "$redis_pid"
resumed=$(date +%s%N)
# Recovery: the first 200 after SIGCONT.
for _ in $(seq 100); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/me")"
  [ "$code" = 200 ] && break
  sleep 0.02
done
recovered_ms=$(( ($(date +%s%N) - resumed) / 1000000 ))
read -r r3 a3 b3 n3 < <(run after)

echo
echo "| phase | requests/s | p50 | p99 | non-2xx answers |"
echo "|---|---:|---:|---:|---:|"
printf '| before | %.0f | %s | %s | %s |\n' "$r1" "$a1" "$b1" "$n1"
printf '| Redis stopped (SIGSTOP) | %.0f | %s | %s | %s |\n' "$r2" "$a2" "$b2" "$n2"
printf '| after SIGCONT | %.0f | %s | %s | %s |\n' "$r3" "$a3" "$b3" "$n3"
echo
echo "first 200 after SIGCONT: ${recovered_ms} ms; breaker log lines: $(grep -c 'circuit breaker' "$work/server.log")"
