#!/usr/bin/env bash
# Fuzzes genforge's parsers with libFuzzer under AddressSanitizer + UndefinedBehaviorSanitizer (fuzz/targets.h,
# docs/reliability.md).
#
#   scripts/fuzz.sh                       every target for 30 s (the CI smoke)
#   scripts/fuzz.sh csv png 120           the named targets for 120 s each
#   scripts/fuzz.sh --runs 10000000       every target for 10 million executions (the campaign)
#   scripts/fuzz.sh --jobs 2 --runs N T   two fuzzing processes on one target, sharing its corpus
#   scripts/fuzz.sh --make-seeds          (re)writes the seeds made by the genforge binary (models, tokenizers, ...)
#   scripts/fuzz.sh --configure           only configures build-fuzz/ (scripts/sanitize.sh builds all of it)
#
# Builds build-fuzz/ with clang (-DGF_FUZZ=ON) when needed. The corpus grows in build-fuzz/fuzz-corpus/TARGET,
# starting from fuzz/corpus/TARGET and fuzz/regressions/TARGET; findings land in build-fuzz/fuzz-findings/. A
# finding is a crash, a sanitizer report, an exception other than a genforge error, a leak, an input slower than 10 s
# or an allocation above 2 GB. One line per target goes to build-fuzz/fuzz-results.jsonl. Exit 1 on any finding.
# GF_FUZZ_TIMEOUT (default 10) is the wall-clock seconds an input may take: a campaign run niced beside other work
# raises it, and reports its slowest input instead (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${GF_FUZZ_BUILD:-build-fuzz}
ALL_TARGETS=(model_file csv json_records npy idx png tokenizer compressed serve image_file)

seconds=30 runs=0 jobs=1 make_seeds=0 configure_only=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --make-seeds) make_seeds=1; shift ;;
    --configure) configure_only=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    all) targets+=("${ALL_TARGETS[@]}"); shift ;;
    *[!0-9]*) targets+=("$1"); shift ;;
    *) seconds=$1; shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  if [[ ! " ${ALL_TARGETS[*]} " == *" $t "* ]]; then
    echo "error: unknown fuzz target '$t'" >&2
    echo "hint: the targets are ${ALL_TARGETS[*]}" >&2
    exit 2
  fi
done

if [ "$make_seeds" = 1 ]; then
  exec ./scripts/fuzz_seeds.sh
fi

if ! command -v clang++ >/dev/null; then
  echo "error: clang++ is not installed" >&2
  echo "hint: run scripts/setup.sh (it installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  # -O1 with line tables: about half the compile time of -O2 -g; stack traces still name the lines.
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DCMAKE_C_FLAGS="-O1" -DGF_FUZZ=ON \
    -DGF_BUILD_BENCH=OFF -DGF_BUILD_EXAMPLES=OFF >/dev/null
fi
[ "$configure_only" = 1 ] && exit 0
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export GENFORGE_THREADS=1
# Large allocations go through check_memory_estimate, which then refuses anything near the 2 GB the fuzzers allow.
export GENFORGE_MEMORY_LIMIT_MB=1500
findings=0
for t in "${targets[@]}"; do
  corpus="$ROOT/$BUILD/fuzz-corpus/$t" out="$ROOT/$BUILD/fuzz-findings/$t" log="$ROOT/$BUILD/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$out" "$(dirname "$log")"
  for seeds in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  done
  # GF_FUZZ_SEED fixes libFuzzer's random seed (with --runs: the same executions every time; 0: a fresh seed).
  args=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout="${GF_FUZZ_TIMEOUT:-10}" -print_final_stats=1
        -artifact_prefix="$out/" -seed="${GF_FUZZ_SEED:-0}")
  case "$t" in
    model_file) args+=(-max_len=65536) ;;
    serve) args+=(-max_len=2048) ;;
    *) args+=(-max_len=8192) ;;
  esac
  if [ -f "fuzz/dicts/$t.dict" ]; then args+=(-dict="$ROOT/fuzz/dicts/$t.dict"); fi
  if [ "$runs" -gt 0 ]; then
    if [ "$jobs" -gt 1 ]; then
      args+=(-runs=$(( runs / jobs )) -jobs="$jobs" -workers="$jobs")
    else
      args+=(-runs="$runs")
    fi
  else
    args+=(-max_total_time="$seconds")
    if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
  fi
  start=$(date +%s)
  status=0
  (cd "$BUILD/fuzz-logs" && "$ROOT/$BUILD/fuzz/fuzz_$t" "${args[@]}" "$corpus") >"$log" 2>&1 || status=$?
  # With several workers libFuzzer's own log already echoes each worker's output, so the statistics come from the
  # workers' logs alone (counted once), which are then kept in the target's log.
  statlog="$log"
  if [ "$jobs" -gt 1 ]; then
    statlog="$log.workers"
    cat "$BUILD"/fuzz-logs/fuzz-*.log >"$statlog" 2>/dev/null || true
    cat "$statlog" >>"$log"
    rm -f "$BUILD"/fuzz-logs/fuzz-*.log
  fi
  elapsed=$(( $(date +%s) - start ))
  stat() { grep -o "$1 *[0-9]*" "$statlog" | awk "$2" || true; }
  executions=$(stat 'stat::number_of_executed_units:' '{s += $2} END {print s + 0}')
  peak=$(stat 'stat::peak_rss_mb:' '{if ($2 > m) m = $2} END {print m + 0}')
  coverage=$(stat 'cov:' '{c = $2} END {print c + 0}')
  features=$(stat 'ft:' '{c = $2} END {print c + 0}')
  # A timeout or slow unit that runs in time when replayed alone was the machine's load (another job, a stopped
  # process), not the input: it moves to unreproduced/ and is reported, not counted.
  unreproduced=0
  for f in "$out"/timeout-* "$out"/slow-unit-*; do
    [ -f "$f" ] || continue
    if (cd "$BUILD/fuzz-logs" && timeout 120 "$ROOT/$BUILD/fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=2048 \
          -malloc_limit_mb=2048 "$f") >/dev/null 2>&1; then
      mkdir -p "$out/unreproduced"
      mv "$f" "$out/unreproduced/"
      unreproduced=$(( unreproduced + 1 ))
    fi
  done
  # This run's findings only: files left by an earlier run (fixed, kept as regressions) are not counted again.
  found=$(find "$out" -maxdepth 1 -type f -newermt "@$start" | wc -l)
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ] && [ "$unreproduced" -eq 0 ]; then found=1; fi
  findings=$(( findings + found ))
  printf '%-13s %10s executions in %5s s (%s/s)  coverage %s  features %s  corpus %s  peak RSS %s MB  findings %s%s\n' \
    "$t" "$executions" "$elapsed" "$(( executions / (elapsed > 0 ? elapsed : 1) ))" "${coverage:-0}" \
    "${features:-0}" "$(ls "$corpus" | wc -l)" "$peak" "$found" \
    "$([ "$unreproduced" -gt 0 ] && echo "  ($unreproduced timeout(s) ran in time alone: the load, set apart in unreproduced/)")"
  grep -h -o 'Slowest unit: [0-9]* s' "$log" | sort -t' ' -k3 -n | tail -1 | sed 's/^/  /' || true
  printf '{"target": "%s", "executions": %s, "seconds": %s, "coverage": %s, "features": %s, "corpus": %s, "peak_rss_mb": %s, "findings": %s, "unreproduced": %s, "date": "%s", "commit": "%s"}\n' \
    "$t" "$executions" "$elapsed" "${coverage:-0}" "${features:-0}" "$(ls "$corpus" | wc -l)" "$peak" "$found" \
    "$unreproduced" \
    "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >>"$BUILD/fuzz-results.jsonl"
  if [ "$found" -gt 0 ]; then
    echo "  finding(s) in $out (log: $log):" >&2
    grep -m3 -E 'ERROR|runtime error|uncaught|deadly|terminate|what\(\)' "$log" | sed 's/^/    /' >&2 || true
  fi
done
[ "$findings" -eq 0 ] || { echo "error: $findings fuzzing finding(s)" >&2; exit 1; }
