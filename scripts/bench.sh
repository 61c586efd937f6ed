#!/usr/bin/env bash
# Exit round-trip costs measured inside a guest (guests/bench/exit-cost.asm): a loop of
# N iterations timed with RDTSC, minus the same loop without the exiting instruction.
# Under `qemu -cpu EPYC -icount shift=0` the guest TSC counts emulated instructions, so the
# figures are deterministic emulated-instruction counts, not wall time.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
make --no-print-directory -s iso ISO=build/bench/exit-cost.iso CMDLINE="loglevel=info" \
  GUEST_MODULES="build/guests/bench/exit-cost.bin:vm name=bench" || exit 1

report() {  # $1 = emulator label, $2 = log
  echo "== $1"
  if ! grep -q "BENCH done" "$2"; then echo "benchmark did not finish (log: $2)"; return 1; fi
  printf "%-12s %12s %12s\n" "exit" "per exit" "loop alone"
  for op in cpuid hypercall io-out io-in rdmsr-tsc mmio-read; do
    cost=$(grep -aoE "BENCH $op [0-9]+" "$2" | awk '{print $3}')
    loop=$(grep -aoE "BENCH $op-loop [0-9]+" "$2" | awk '{print $3}')
    printf "%-12s %12s %12s\n" "$op" "${cost:--}" "${loop:--}"
  done
  echo "hypervisor-side cycles per exit, from Peregrine's own statistics (exit to re-entry):"
  awk '/^summary: all VMs together/ {on=1} on && /per exit/ {print "  " $0}' "$2"
}

echo "Peregrine exit costs, in emulated cycles per round trip (guest-observed)"
PEREGRINE_ICOUNT=1 timeout 600 scripts/run-qemu.sh build/bench/exit-cost.iso \
  > build/bench/qemu-svm.log 2>/dev/null
report "AMD-V: qemu-system-x86_64 -cpu EPYC -icount shift=0 (no NRIPS)" build/bench/qemu-svm.log
echo
timeout -k 5 900 scripts/run-bochs.sh build/bench/exit-cost.iso 880 build/bench/bochs-vmx.log > /dev/null 2>&1
report "Intel VT-x: Bochs 2.7 corei7_skylake_x, clock sync=none (RDTSC counts instructions)" build/bench/bochs-vmx.log
echo
echo "Reference (same emulator and method): Linux 6.1 KVM ~2700 (CPUID), ~2900 (VMMCALL);"
echo "a bare VMRUN loop < 30; a minimal C hypervisor 71 (CPUID)."
