#!/usr/bin/env bash
# The sanitizer pass of `make test` (docs/reliability.md): genforge built with clang, AddressSanitizer +
# UndefinedBehaviorSanitizer and -Werror for its own code (build-fuzz/, -DGF_FUZZ=ON), then
#   1. the quick tests under the sanitizers (SentencePiece keeps its documented skip: its module needs
#      RTLD_DEEPBIND, which AddressSanitizer refuses), zero reports;
#   2. every fuzz target for GF_FUZZ_SMOKE_RUNS executions (default 20000) from its seeds and regressions, with a
#      fixed libFuzzer seed so CI runs the same inputs every time (scripts/fuzz.sh; the campaign explores).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${GF_FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
./scripts/fuzz.sh --configure
cmake --build "$BUILD" -j "$JOBS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS" -L quick -E '^Browser\.')
GF_FUZZ_SEED=${GF_FUZZ_SEED:-1} ./scripts/fuzz.sh --runs "${GF_FUZZ_SMOKE_RUNS:-20000}"
