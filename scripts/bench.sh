#!/usr/bin/env bash
# Exit round-trip costs measured inside a guest (guests/bench/exit-cost.asm): a loop of
# N iterations timed with RDTSC, minus the same loop without the exiting instruction.
# Under `qemu -cpu EPYC -icount shift=0` the guest TSC counts emulated instructions, so the
# figures are deterministic emulated-instruction counts, not wall time.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
make --no-print-directory -s iso ISO=build/bench/exit-cost.iso CMDLINE="loglevel=info batch" \
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

# Linux boot: Debian's kernel and the busybox initramfs, from the kernel's clock start to
# /init (CLOCK_MONOTONIC, which under -icount shift=0 counts emulated instructions as ns),
# inside Peregrine and booted directly by QEMU, with the same kernel command line.
echo
echo "== Linux boot to userspace, qemu -cpu EPYC -icount shift=0"
scripts/fetch-linux-fixtures.sh > /dev/null || { echo "could not fetch the Linux fixtures"; exit 1; }
make --no-print-directory -s iso ISO=build/bench/linux.iso CMDLINE="loglevel=info batch" \
  GUEST_KERNEL=build/linux/vmlinuz GUEST_INITRD=build/linux/initramfs.cpio.gz \
  GUEST_CMDLINE="console=ttyS0 panic=-1 quiet" || exit 1
PEREGRINE_ICOUNT=1 timeout 900 scripts/run-qemu.sh build/bench/linux.iso > build/bench/linux-peregrine.log 2>/dev/null
scripts/linux-native-baseline.sh > build/bench/linux-native.txt 2>&1
inside=$(tr -d '\r' < build/bench/linux-peregrine.log | awk '$2 == "NOW" {print $3; exit}')
native=$(tr -d '\r' < build/linux/native.log | awk '$1 == "NOW" {print $2; exit}')
if [ -z "$inside" ] || [ -z "$native" ]; then
  echo "a boot did not reach /init (logs: build/bench/linux-peregrine.log, build/linux/native.log)"
  exit 1
fi
awk -v a="$inside" -v b="$native" 'BEGIN {
  printf "kernel clock at /init: %.3e emulated instructions inside Peregrine, %.3e booted directly by QEMU; ratio %.3f\n", a, b, a / b }'
echo "(not like for like: QEMU's pc machine gives the kernel an RTC, HPET, i8042, ATA and VGA to"
echo " probe and set up; Peregrine's VM has a UART, a PIT and APICs. The direct measure of what"
echo " virtualization costs this boot is the share of the VM's cycles spent in exits, below.)"
tr -d '\r' < build/bench/linux-peregrine.log | awk '
  /^\[info \] vm linux: lifetime / {life=$6; on=1; next}
  on && /^  exits: / {exits=$2; cycles=$4}
  on && /^summary/ {exit}
  END { if (life > 0) printf "Peregrine: the VM lived %.3e cycles; %d exits took %.3e cycles, %.2f%% of them\n", life, exits, cycles, 100 * cycles / life }'
echo "exits taken by the Linux VM, by reason (count, cycles, cycles per exit):"
tr -d '\r' < build/bench/linux-peregrine.log | awk '/^\[info \] vm linux: lifetime / {on=1; next} on && /^summary/ {exit} on && /per exit|unhandled|refused|unmapped|injected/ {print "  " $0}'

# SMP: IPI round trips, gang against shared, pinned exits per second (guests/smp/).
echo
scripts/bench-smp.sh
