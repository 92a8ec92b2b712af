#!/usr/bin/env bash
# The HTTP-level cost of a token: one handler served four ways by examples/http_bench.rs on
# 127.0.0.1 (no auth, Bearer<T>, Session<T> reading the cookie, Session<T> reading and writing
# it), each driven by wrk for SECONDS (default 10) with a fixed number of connections, in
# ROUNDS rounds (the routes interleaved). Prints requests/s, p50 and p99 latency and the ratio
# of requests/s to no auth, as Markdown. Installs wrk from Debian if it is missing.
#
#   scripts/http_bench.sh                              # default backend, 10 s a route, 2 rounds
#   HTTP_BENCH_FEATURES=axum,ring scripts/http_bench.sh 10
#   HTTP_BENCH_CONNECTIONS=64 HTTP_BENCH_ROUNDS=3 scripts/http_bench.sh 5
#   HTTP_BENCH_DOORS="axum actix" scripts/http_bench.sh 10   # also the actix-web door
#                                  (examples/actix_bench.rs, the same routes; one release build)
#
# The server is single-threaded (one core); wrk runs one thread (the other core). Everything
# is loopback, bounded in time, and the server is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
connections="${HTTP_BENCH_CONNECTIONS:-16}"
rounds="${HTTP_BENCH_ROUNDS:-2}"
features="${HTTP_BENCH_FEATURES:-axum}"
doors="${HTTP_BENCH_DOORS:-axum}"
target_dir="${CARGO_TARGET_DIR:-target}"

# door -> its server; one build with the features of every door asked for.
declare -A EXAMPLE=([axum]=http_bench [actix]=actix_bench)
examples=()
for door in $doors; do
  [ -n "${EXAMPLE[$door]:-}" ] || { echo "http_bench: unknown door '$door' (known: ${!EXAMPLE[*]})" >&2; exit 2; }
  case ",$features," in *",$door,"*) ;; *) features="$features,$door" ;; esac
  examples+=(--example "${EXAMPLE[$door]}")
done

if ! command -v wrk >/dev/null 2>&1; then
  echo "==> installing wrk (Debian package)"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

echo "==> building ${examples[*]} (release, features $features)"
cargo build --release --locked "${examples[@]}" --features "$features"

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# start_server EXAMPLE: starts it and reads its PORT, TOKEN and COOKIE lines.
start_server() {
  "$target_dir/release/examples/$1" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q '^COOKIE=' "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^COOKIE=' "$work/server.out" || { cat "$work/server.err"; echo "server did not start"; exit 1; }
  port="$(sed -n 's/^PORT=//p' "$work/server.out")"
  token="$(sed -n 's/^TOKEN=//p' "$work/server.out")"
  cookie="$(sed -n 's/^COOKIE=//p' "$work/server.out")"
  base="http://127.0.0.1:$port"
}

# run ROUTE: one wrk run; prints "rps p50 p99" and fails on any non-2xx answer or socket error.
run() {
  local route="$1" out="$work/wrk-$1.txt"
  local header=()
  case "$route" in
    bearer) header=(-H "Authorization: Bearer $token") ;;
    session | session-write) header=(-H "Cookie: $cookie") ;;
  esac
  wrk -t1 -c"$connections" -d"${seconds}s" --latency "${header[@]}" "$base/$route" >"$out"
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    cat "$out"
    echo "FAILED: $route answered errors"
    exit 1
  fi
  awk '/^Requests\/sec:/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, p50, p99}' "$out"
}

for door in $doors; do
  start_server "${EXAMPLE[$door]}"
  echo "==> warm-up (3 s on /plain)"
  wrk -t1 -c"$connections" -d3s "$base/plain" >/dev/null

  echo "==> wrk -t1 -c$connections -d${seconds}s --latency, $rounds rounds; CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for round in $(seq "$rounds"); do
    declare -A rps=() p50=() p99=()
    for route in plain bearer session session-write; do
      read -r r a b < <(run "$route")
      rps[$route]="$r"; p50[$route]="$a"; p99[$route]="$b"
    done
    echo
    echo "Round $round, door $door (features $features):"
    echo
    echo "| route | requests/s | p50 | p99 | requests/s ÷ no auth |"
    echo "|---|---:|---:|---:|---:|"
    for route in plain bearer session session-write; do
      case "$route" in
        plain) name="no auth" ;;
        bearer) name="Bearer<T>" ;;
        session) name="Session<T> (cookie read)" ;;
        session-write) name="Session<T> (cookie read + write)" ;;
      esac
      ratio="$(awk -v a="${rps[$route]}" -v b="${rps[plain]}" 'BEGIN {printf "%.2f", a / b}')"
      printf '| %s | %.0f | %s | %s | %s |\n' "$name" "${rps[$route]}" "${p50[$route]}" "${p99[$route]}" "$ratio"
    done
    unset rps p50 p99
  done
  stop_server
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
