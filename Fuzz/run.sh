#!/usr/bin/env bash
# Runs fuzz targets over their committed corpus (Fuzz/Corpus/<target>) plus new inputs.
#
#   Fuzz/run.sh [--seconds N | --runs N | --merge] [TARGET...]
#                                          (default: every target, --seconds 60)
#
# --seconds N: fuzz each target for N seconds (`make fuzz`, FUZZ_SECONDS).
# --runs N:    a deterministic pass (-seed=1, a fresh scratch corpus) of N inputs per
#              target, the corpus first (`make test`).
# --merge:     fold what earlier runs found (build/fuzz/corpus/<target>) and the seeds of
#              Fuzz/make-seeds.py (build/fuzz/seeds/<target>) into Fuzz/Corpus/<target>,
#              keeping only inputs that add coverage (-merge=1).
# Each target is one PASS or FAIL line. A crash, a sanitizer report, a timeout (one input
# taking over 5 s) or running out of memory (2 GiB) is a failure; libFuzzer writes the
# reproducer to build/fuzz/artifacts/<target>-crash-..., -timeout-... or -oom-..., and the
# log is build/fuzz/logs/<target>.log. New inputs go to build/fuzz/corpus/<target>, never
# into the committed corpus; `make fuzz-merge` (Fuzz/README.md) folds them in.
# Exits non-zero when any target failed; the last line is "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mode=(-max_total_time=60)
scratch=build/fuzz/corpus
case "${1:-}" in
  --seconds) mode=(-max_total_time="$2"); shift 2 ;;
  --runs) mode=(-runs="$2" -seed=1); scratch=build/fuzz/runs-corpus; rm -rf "$scratch"; shift 2 ;;
  --merge) mode=(-merge=1); shift ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for file in Fuzz/Targets/*.swift; do targets+=("$(basename "$file" .swift)"); done
fi

if ! Fuzz/build.sh "${targets[@]}"; then
  echo "FAIL  fuzz targets did not build"
  echo "fuzz: 0 passed, ${#targets[@]} failed"
  exit 1
fi

bin=$(Fuzz/build.sh --bin-dir)
mkdir -p build/fuzz/artifacts build/fuzz/logs
passed=0; failed=0
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "Fuzz/Corpus/$target"
  log="build/fuzz/logs/$target.log"
  if [ "${mode[0]}" = -merge=1 ]; then
    before=$(ls "Fuzz/Corpus/$target" | wc -l)
    inputs=("$scratch/$target")
    [ -d "build/fuzz/seeds/$target" ] && inputs+=("build/fuzz/seeds/$target")
    SWIFT_BACKTRACE=enable=no "$bin/$target" -merge=1 -timeout=5 -max_len=65536 \
      "Fuzz/Corpus/$target" "${inputs[@]}" >"$log" 2>&1 \
      && { echo "merged $target: $before -> $(ls "Fuzz/Corpus/$target" | wc -l) files"; passed=$((passed + 1)); } \
      || { echo "FAIL  merge $target (log: $log)"; failed=$((failed + 1)); }
    continue
  fi
  # The Swift runtime's own crash backtracer would race libFuzzer's signal handler.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    "$bin/$target" "${mode[@]}" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$target-" \
    "$scratch/$target" "Fuzz/Corpus/$target" >"$log" 2>&1
  status=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  if [ $status -eq 0 ]; then
    echo "PASS  fuzz $target (${runs:-?} runs, ${coverage:-no coverage line})"
    passed=$((passed + 1))
  else
    echo "FAIL  fuzz $target: $(grep -m1 -E 'ERROR: libFuzzer|ERROR: AddressSanitizer|Fatal error|Precondition failed|==ERROR' "$log" | sed 's/^.*: \(Precondition\|Fatal\)/\1/')"
    grep -m1 -E '^(Fuzz_[^ ]*: )?[^ ]*\.swift:[0-9]+: ' "$log" | sed 's/^/      /'
    grep -E 'Test unit written to' "$log" | sed 's/^/      /'
    echo "      log: $log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
