#!/usr/bin/env bash
# Checks `make bench`'s CSV producer: runs its exit-cost part on AMD-V only (QEMU -cpu EPYC
# -icount shift=0, under a minute) into build/test/bench, and asserts exit-costs.csv has the
# header backend,exit,instructions, a row for every exit the guest measures, and each cost
# within bounds: above 0 (a cost of 0 means the instruction did not exit) and under a
# ceiling about 1.5 times today's figure, so a regression of the exit path fails here
# loudly. Prints PASS or FAIL; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/test/bench
rm -rf "$out"
mkdir -p "$out"
failures=0
fail() { echo "      $1"; failures=$((failures + 1)); }
BENCH_OUT=$out scripts/bench/exit-costs.sh svm > "$out/exit-costs.txt" 2>&1 \
  || fail "scripts/bench/exit-costs.sh svm failed (output: $out/exit-costs.txt)"
csv=$out/exit-costs.csv
if [ ! -s "$csv" ]; then
  fail "$csv was not written"
else
  [ "$(head -1 "$csv")" = "backend,exit,instructions" ] || fail "$csv header: $(head -1 "$csv")"
  # exit ceiling (AMD-V, QEMU -cpu EPYC without NRIPS; README "Exit costs")
  while read -r name ceiling; do
    value=$(awk -F, -v e="$name" '$1 == "svm" && $2 == e {print $3}' "$csv")
    if [ -z "$value" ]; then fail "no svm,$name row"
    elif ! [[ "$value" =~ ^[0-9]+$ ]]; then fail "svm,$name: not a count: $value"
    elif [ "$value" -le 0 ] || [ "$value" -ge "$ceiling" ]; then
      fail "svm,$name = $value instructions, outside (0, $ceiling)"
    fi
  done <<'BOUNDS'
cpuid 600
hypercall 700
io-out 600
io-in 600
rdmsr 700
mmio-read 3300
BOUNDS
fi
if [ $failures -eq 0 ]; then
  echo "PASS  make bench writes exit-costs.csv with bounded costs ($(awk -F, '$2 == "cpuid" {print "CPUID " $3}' "$csv") on AMD-V)"
else
  echo "FAIL  make bench's exit-costs.csv"
fi
[ $failures -eq 0 ]
