#!/usr/bin/env bash
# Runs every test: the host unit tests (swift test) and the integration tests that boot the
# real ISO in QEMU and Bochs. The last line reads "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
unit_passed=0; unit_failed=0; unit_skipped=0; int_passed=0; int_failed=0; int_skipped=0; build_failed=0
fuzz_passed=0; fuzz_failed=0
# Wall-clock seconds at each phase's end, printed before the totals (CI shows only the tail).
started=$(date +%s); phase_times=""
phase_done() { phase_times="$phase_times $1 $(( $(date +%s) - started )) s,"; }

# The kernel (two minutes of one core: one whole-module -O compile), the guests, and the
# integration tests' fixtures and ISOs (mostly waiting on grub-mkrescue and downloads) are
# made in the background while the host tests build and run. The guests
# are built once, before the ISOs, so no two makes write the same guest binary.
echo "== building the kernel, the guests and the integration tests' ISOs (in the background)"
rm -f build/kernel-built
(
  if make --no-print-directory -j2 kernel > build/kernel-build.log 2>&1 \
      && make --no-print-directory -s guests >> build/kernel-build.log 2>&1; then
    touch build/kernel-built
    python3 Tests/Integration/run.py --prepare-only > build/integration-prepare.log 2>&1
  else
    exit 1
  fi
) &
prepare_pid=$!
# The fuzz pass links each target with the objects `swift test` builds (Fuzz/build.sh,
# FUZZ_OPTIMIZATION=swiftpm: about 5 s for all 14, against 79 s of CPU for instrumented
# modules of their own), so it runs after the unit tests, beside the integration cases.
export FUZZ_OPTIMIZATION=swiftpm

echo "== unit tests (swift test)"
# Niced: the kernel's compile (95 s of one core alone) is what the integration cases wait
# for. Beside an un-niced `swift test` it finished 23 s after the unit tests (151 s against
# 128 s, one core idle meanwhile); niced, 12-15 s after.
nice -n 10 swift test 2>&1 | tee build/unit-tests.log | grep -E "error:|failed|Executed .* tests" | tail -20
# XCTest's closing line: "Executed N tests, with [K test(s) skipped and ]M failure(s)".
summary=$(grep -A1 -E "^Test Suite 'All tests' (passed|failed)" build/unit-tests.log | grep -E "Executed [0-9]+ tests?" | tail -1)
if [ -n "$summary" ]; then
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  unit_failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  unit_skipped=$(echo "$summary" | grep -oE "[0-9]+ tests? skipped" | grep -oE "^[0-9]+" || echo 0)
  unit_passed=$((total - unit_failed - unit_skipped))
else
  echo "FAIL  swift test did not run to its summary (see build/unit-tests.log)"
  unit_failed=1
fi
if grep -qE "error: (fatalError|emit-module|compile)" build/unit-tests.log; then
  echo "FAIL  the unit tests did not build (see build/unit-tests.log)"
  unit_failed=$((unit_failed + 1))
fi

phase_done "unit tests done at"
# The bench check and the integration tests need the kernel: wait for it (the ISOs go on).
while [ ! -e build/kernel-built ] && kill -0 $prepare_pid 2>/dev/null; do sleep 1; done
phase_done "kernel built at"
if [ ! -e build/kernel-built ]; then
  cat build/kernel-build.log
  echo "FAIL  kernel or guests build (see build/kernel-build.log)"
  build_failed=1
fi

# The fuzzing, the script checks and make bench's exit-cost check (one single-threaded QEMU
# for about a minute and a half, under -icount: its counts do not depend on load) are mostly
# one process at a time, which left a core idle for about a minute. They run in the
# background beside the integration cases instead, and report after them.
rm -f build/script-checks.count
(
  if [ $build_failed -eq 0 ]; then
    scripts/test-bench.sh > build/test-bench.log 2>&1 &
  else
    (echo "FAIL  make bench's exit-cost check: no kernel to measure"; exit 1) > build/test-bench.log 2>&1 &
  fi
  bench_pid=$!
  # Each fuzz target is one test: its committed corpus plus a fixed, seeded number of new
  # inputs (deterministic). A crash, sanitizer report, timeout or OOM fails it; the
  # reproducer is in build/fuzz/artifacts. Then the script checks, one test each.
  Fuzz/run.sh --runs "${FUZZ_RUNS:-5000}" > build/fuzz-tests.log 2>&1
  passed=0; failed=0
  check() { if "$@" >> build/script-checks.log 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }
  : > build/script-checks.log
  check scripts/test-make-iso.sh
  check scripts/test-cli.sh
  check python3 scripts/bench/test_net_cost.py
  check python3 scripts/bench/test_round_trip.py
  check python3 scripts/bench/test_bench_nvme.py
  if wait $bench_pid; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "$passed $failed" > build/script-checks.count
) &
checks_pid=$!
phase_done "fuzz and script checks started at"

if [ $build_failed -eq 0 ]; then
  echo "== integration tests (QEMU -cpu EPYC, Bochs corei7_skylake_x)"
  if wait $prepare_pid; then
    python3 Tests/Integration/run.py --prepared 2>&1 | tee build/integration-tests.log
  else
    cat build/integration-prepare.log
    echo "FAIL  the integration tests' fixtures or ISOs (see build/integration-prepare.log)"
  fi
  line=$(grep -E "^integration: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped" build/integration-tests.log | tail -1)
  if [ -n "$line" ]; then
    int_passed=$(echo "$line" | sed -E 's/integration: ([0-9]+) passed.*/\1/')
    int_failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    int_skipped=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped/\1/')
  else
    int_failed=1
  fi
fi

phase_done "integration done at"
echo "== fuzzing (Fuzz/run.sh --runs ${FUZZ_RUNS:-5000}), script checks, make bench's exit-cost check"
wait $checks_pid
cat build/fuzz-tests.log
line=$(grep -E "^fuzz: [0-9]+ passed, [0-9]+ failed" build/fuzz-tests.log | tail -1)
if [ -n "$line" ]; then
  fuzz_passed=$(echo "$line" | sed -E 's/fuzz: ([0-9]+) passed.*/\1/')
  fuzz_failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')
else
  fuzz_failed=1
fi
cat build/script-checks.log build/test-bench.log
if [ -f build/script-checks.count ]; then
  read -r checks_passed checks_failed < build/script-checks.count
  fuzz_passed=$((fuzz_passed + checks_passed)); fuzz_failed=$((fuzz_failed + checks_failed))
else
  echo "FAIL  the script checks did not finish (see build/script-checks.log)"
  fuzz_failed=$((fuzz_failed + 1))
fi
phase_done "fuzz and script checks reported at"
echo "time:${phase_times%,}"
echo "unit: $unit_passed passed, $unit_failed failed, $unit_skipped skipped; integration: $int_passed passed, $int_failed failed, $int_skipped skipped; fuzz and scripts: $fuzz_passed passed, $fuzz_failed failed"
passed=$((unit_passed + int_passed + fuzz_passed))
failed=$((unit_failed + int_failed + build_failed + fuzz_failed))
echo "$passed passed, $failed failed, $((unit_skipped + int_skipped)) skipped"
[ "$failed" -eq 0 ]
