#!/usr/bin/env bash
# Exit round-trip costs measured inside a guest (guests/bench/exit-cost.asm): a loop of
# N iterations timed with RDTSC, minus the same loop without the exiting instruction.
# Under `qemu -cpu EPYC -icount shift=0` (AMD-V) and Bochs with `clock: sync=none` (VT-x)
# the guest TSC counts emulated instructions: deterministic counts, not wall time.
#   scripts/bench/exit-costs.sh [svm|vmx|both]     (default both)
# Writes $BENCH_OUT/exit-costs.csv (backend,exit,instructions; BENCH_OUT defaults to
# build/bench), the emulators' logs beside it, and prints a table. Exits non-zero when a
# backend's run did not finish.
set -uo pipefail
cd "$(dirname "$0")/../.."
which=${1:-both}
out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
# BENCH_TREE=DIR builds the ISO from another checkout (scripts/bench-compare.sh).
tree=${BENCH_TREE:-.}
make -C "$tree" --no-print-directory -s iso ISO="$(realpath "$out")/exit-cost.iso" \
  CMDLINE="loglevel=info batch" GUEST_MODULES="build/guests/bench/exit-cost.bin:vm name=bench" || exit 1

csv=$out/exit-costs.csv
echo "backend,exit,instructions" > "$csv"
status=0

# $1 backend, $2 label, $3 log: the guest's BENCH lines into the CSV, and a table.
record() {
  echo "== $2"
  if ! grep -aq "BENCH done" "$3"; then
    echo "benchmark did not finish (log: $3)"; status=1; return
  fi
  # Guest lines come tagged "[bench] ".
  tr -d '\r' < "$3" | sed 's/^\[[a-z0-9-]*\] //' | awk -v backend="$1" -v csv="$csv" '
    $1 == "BENCH" && $2 != "done" && $2 !~ /-loop$/ {
      name = ($2 == "rdmsr-tsc") ? "rdmsr" : $2
      cost[name] = $3; order[++n] = name }
    $1 == "BENCH" && $2 ~ /-loop$/ { loop[($2 == "rdmsr-tsc-loop") ? "rdmsr" : substr($2, 1, length($2) - 5)] = $3 }
    END {
      printf "%-12s %12s %12s\n", "exit", "per exit", "loop alone"
      for (i = 1; i <= n; i++) {
        printf "%s,%s,%s\n", backend, order[i], cost[order[i]] >> csv
        printf "%-12s %12s %12s\n", order[i], cost[order[i]], loop[order[i]] }
    }'
  echo "hypervisor-side cycles per exit, from Peregrine's own statistics (exit to re-entry):"
  tr -d '\r' < "$3" | awk '/^summary: all VMs together/ {on=1} on && /per exit/ {print "  " $0}'
}

echo "Peregrine exit costs, in emulated instructions per round trip (guest-observed)"
if [ "$which" != vmx ]; then
  PEREGRINE_ICOUNT=1 timeout 600 scripts/run-qemu.sh "$out/exit-cost.iso" \
    > "$out/exit-cost-svm.log" 2>/dev/null
  record svm "AMD-V: qemu-system-x86_64 -cpu EPYC -icount shift=0 (no NRIPS)" "$out/exit-cost-svm.log"
fi
if [ "$which" != svm ]; then
  timeout -k 5 900 scripts/run-bochs.sh "$out/exit-cost.iso" 880 "$out/exit-cost-vmx.log" > /dev/null 2>&1
  record vmx "Intel VT-x: Bochs 2.7 corei7_skylake_x, clock sync=none (RDTSC counts instructions)" \
    "$out/exit-cost-vmx.log"
fi
echo "(CSV: $csv)"
exit $status
