#!/usr/bin/env bash
# CI's fuzz smoke run: builds every target (nightly, libFuzzer) and runs each from its committed
# corpus for FUZZ_RUNS executions (200,000 by default) or FUZZ_SECONDS (10), whichever ends first,
# failing on the first crash, leak or timeout. The seed is fixed (FUZZ_SEED), so a run repeats the
# same inputs: CI checks the corpus and the code, and finding new inputs is the longer runs' job
# (docs/security.md, "Fuzzing"), not a chance that turns CI red.
#
# The build goes to a target directory outside the checkout, so a fresh clone reuses what an
# earlier run compiled.
set -euo pipefail
cd "$(dirname "$0")"

CACHE="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
export CARGO_TARGET_DIR="$CACHE/fuzz-target"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-10}"
RUNS_PER_TARGET="${FUZZ_RUNS:-200000}"
SEED="${FUZZ_SEED:-1}"
# No sanitizer: the code fuzzed is safe Rust, where AddressSanitizer finds little, and without
# it the targets run several times faster. Overflow checks and debug assertions stay on.
SANITIZER=(--sanitizer none)

cargo +nightly fuzz build "${SANITIZER[@]}"

# New inputs a run finds go to a scratch directory: the committed corpus is only read.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo +nightly fuzz list); do
    echo "--> $target (${RUNS_PER_TARGET} runs or ${SECONDS_PER_TARGET} s, seed $SEED)"
    mkdir -p "$scratch/$target"
    cargo +nightly fuzz run "${SANITIZER[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS_PER_TARGET" -seed="$SEED" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 2>"$scratch/$target.log" || {
        tail -n 40 "$scratch/$target.log"
        echo "fuzz target $target failed: the input is under fuzz/artifacts/$target/" >&2
        exit 1
    }
    grep -E '^(Done|stat::number_of_executed_units)' "$scratch/$target.log" | tr '\n' ' '
    echo
done
echo "fuzz smoke run: every target ran without a crash"
