#!/usr/bin/env bash
# Fuzzing with cargo fuzz (libFuzzer) on the five parsers that take outside input: the SC1
# decoder, the verifier bundle, the CSV import line reader, the GeoJSON zone validator and the
# rule-set validator. Seeds are in fuzz/corpus/<target>; what a run finds is kept in
# target/fuzz-work/<target>, crashes in fuzz/artifacts/<target>.
#   scripts/fuzz.sh            # short run of every target (CI): FUZZ_SECONDS=15 each
#   FUZZ_SECONDS=600 scripts/fuzz.sh sc1_decode csv_line
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-15}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sc1_decode bundle_decode csv_line zone_geojson rule_set)
# No sanitizer: the stable toolchain builds it, and the code under test has no `unsafe`.
cargo fuzz build --sanitizer none
for t in "${targets[@]}"; do
  mkdir -p "target/fuzz-work/$t"
  echo "--- fuzz $t for ${SECONDS_EACH}s"
  cargo fuzz run --sanitizer none "$t" "target/fuzz-work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==|SUMMARY|thread)" || true
  if [ -n "$(ls -A "fuzz/artifacts/$t" 2>/dev/null)" ]; then
    echo "fuzz $t found crashes: fuzz/artifacts/$t" >&2
    exit 1
  fi
done
