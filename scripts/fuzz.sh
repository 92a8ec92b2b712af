#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 45) and fails on any crash, memory
# over the limit, leak or timeout. Installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh            # 45 s a target
#   scripts/fuzz.sh 600        # a 10-minute campaign a target
#   FUZZ_TARGETS="loads_str open_bytes" scripts/fuzz.sh 60
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

targets="${FUZZ_TARGETS:-$("${fuzz[@]}" list)}"
"${fuzz[@]}" build

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for target in $targets; do
  echo "==> fuzz $target for ${seconds}s"
  mkdir -p "$work/$target"
  max_len=4096
  # loads_str also needs inputs past the default maximum token length (8192).
  [ "$target" = loads_str ] && max_len=9000
  # New inputs go to a scratch corpus; the committed seeds in fuzz/corpus are only read.
  if ! "${fuzz[@]}" run "$target" "$work/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" \
      -max_len="$max_len" -print_final_stats=1 2>"$work/$target.log"; then
    tail -n 60 "$work/$target.log"
    echo "FAILED: fuzz target $target (artifacts in fuzz/artifacts/$target)"
    status=1
    continue
  fi
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$target.log" || true
  grep -E '^#[0-9]+' "$work/$target.log" | tail -n 1
done
exit "$status"
