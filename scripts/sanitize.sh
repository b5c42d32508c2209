#!/usr/bin/env bash
# The sanitizer pass of `make test` (docs/reliability.md): genforge built with clang, AddressSanitizer +
# UndefinedBehaviorSanitizer and -Werror for its own code (build-fuzz/, -DGF_FUZZ=ON), then
#   1. the quick tests under the sanitizers (SentencePiece keeps its documented skip: its module needs
#      RTLD_DEEPBIND, which AddressSanitizer refuses), zero reports;
#   2. every fuzz target for GF_FUZZ_SMOKE_SECONDS (default 10) from its seeds (scripts/fuzz.sh).
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
./scripts/fuzz.sh "${GF_FUZZ_SMOKE_SECONDS:-10}"
