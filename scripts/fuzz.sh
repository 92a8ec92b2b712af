#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 45) and fails on any crash, memory
# over the limit, leak or timeout. Installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh            # 45 s a target
#   scripts/fuzz.sh 600        # a 10-minute campaign a target
#   FUZZ_TARGETS="loads_str open_bytes" scripts/fuzz.sh 60
#
# Then it runs FUZZ_RING_TARGETS (default: roundtrip open_bytes, the two that seal and open
# through the AEAD with and without a valid tag) again with the crate's `ring` backend, for
# FUZZ_RING_SECONDS each (default SECONDS). FUZZ_RING_TARGETS="" skips the ring run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-45}"
rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"

# A pinned version with its own Cargo.lock (--locked): the same build on every machine.
cargo_fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

# cargo-fuzz needs nightly (for -Z sanitizer flags): use the nightly toolchain when rustup has
# one, otherwise let stable act as nightly.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  echo "==> no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0

# run_targets LABEL SECONDS "TARGETS" [cargo-fuzz feature args...]
run_targets() {
  local label="$1" secs="$2" list="$3"
  shift 3
  "${fuzz[@]}" build "$@"
  for target in $list; do
    echo "==> fuzz $target ($label) for ${secs}s"
    local dir="$work/$label/$target" log="$work/$label-$target.log"
    mkdir -p "$dir"
    local max_len=4096
    # loads_str also needs inputs past the default maximum token length (8192).
    [ "$target" = loads_str ] && max_len=9000
    # session_cookies: headers with chunked cookies (three chunks of up to 4 KiB).
    [ "$target" = session_cookies ] && max_len=16384
    # New inputs go to a scratch corpus; the committed seeds in fuzz/corpus are only read.
    if ! "${fuzz[@]}" run "$@" "$target" "$dir" "fuzz/corpus/$target" -- \
        -max_total_time="$secs" -rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" \
        -max_len="$max_len" -print_final_stats=1 2>"$log"; then
      tail -n 60 "$log"
      echo "FAILED: fuzz target $target ($label; artifacts in fuzz/artifacts/$target)"
      status=1
      continue
    fi
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    grep -E '^#[0-9]+' "$log" | tail -n 1
  done
}

targets="${FUZZ_TARGETS:-$("${fuzz[@]}" list)}"
run_targets default "$seconds" "$targets"

ring_targets="${FUZZ_RING_TARGETS-roundtrip open_bytes}"
if [ -n "$ring_targets" ]; then
  run_targets ring "${FUZZ_RING_SECONDS:-$seconds}" "$ring_targets" --features ring
fi
exit "$status"
