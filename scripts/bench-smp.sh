#!/usr/bin/env bash
# The SMP section of `make bench` (scripts/bench.sh runs it last; it also runs alone), with
# the multi-vCPU guests of guests/smp/:
#   - the IPI round trip between two vCPUs of one VM (ipi-pingpong), both on one physical
#     CPU under QEMU -icount shift=0 (deterministic), and under Bochs with 2 CPUs;
#   - a bulk-synchronous barrier workload (barrier, 4 vCPUs): two such VMs on 4 CPUs under
#     sched=gang and under sched=shared, each VM's completion in its own TSC cycles;
#   - exits per second of pinned VMs (a pinned 4-vCPU barrier, a pinned 1-vCPU compute loop);
#   - Peregrine's per-CPU counts (kicks received, sleeps in HLT) for every run.
# QEMU 7.2 cannot use -icount with more than one CPU: multi-CPU figures are TCG cycles and
# counts, not hardware time. A VM the machine cannot place (too few CPUs online, today: the
# application processors are not started yet) is reported with Peregrine's refusal.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
out=build/bench

iso() {  # $1 = ISO, $2 = modules
  make --no-print-directory -s iso ISO="$1" CMDLINE="loglevel=info batch" GUEST_MODULES="$2" || exit 1
}
iso $out/smp-ipi.iso "build/guests/smp/ipi-pingpong.bin:vm name=pingpong cpus=2 apic=on"
iso $out/smp-gang.iso "build/guests/smp/barrier.bin:vm name=bsp-a cpus=4 sched=gang;build/guests/smp/barrier.bin:vm name=bsp-b cpus=4 sched=gang"
iso $out/smp-shared.iso "build/guests/smp/barrier.bin:vm name=bsp-a cpus=4 sched=shared;build/guests/smp/barrier.bin:vm name=bsp-b cpus=4 sched=shared"
iso $out/smp-pinned.iso "build/guests/smp/barrier.bin:vm name=bsp-pinned cpus=4 sched=pinned"
iso $out/smp-pinned-compute.iso "build/guests/smp/pinned-compute.bin:vm name=compute sched=pinned"

clean() { tr -d '\r' < "$1"; }
online() { clean "$1" | awk '/^\[info \] cpus: [0-9]+ online/ {print $4; exit}'; }
bench_value() {  # $1 = log, $2 = VM, $3 = regex of the BENCH line's start; prints the rest
  clean "$1" | grep -aE "^\[$2\] $3" | head -1 | sed -E "s/^\[$2\] $3//"
}
refusal() {  # $1 = log, $2 = VM: Peregrine's refusal, if it refused the VM
  clean "$1" | awk -v vm="vm name=$2 " 'index($0, vm) && /refused/ {getline why; sub(/^\[error\] +/, "", why); print why; exit}'
}
cpu_lines() { clean "$1" | grep -aE "^summary: cpu [0-9]+:" | sed 's/^/    /'; }
tsc_per_ms() { clean "$1" | sed -nE 's/.*TSC at ([0-9]+) per ms.*/\1/p' | head -1; }
# Exits and lifetime of a VM from the report printed when it is released ("[info ] vm NAME:
# lifetime N cycles ..." then "  exits: N in ..."); prints "EXITS LIFETIME".
vm_stats() {
  clean "$1" | awk -v vm="vm $2: lifetime " '
    index($0, vm) == 9 {life=$6; on=1; next}
    on && /^  exits:/ {print $2, life; exit}'
}
exits_per_second() {  # $1 = log, $2 = VM
  local stats tsc
  stats=$(vm_stats "$1" "$2"); tsc=$(tsc_per_ms "$1")
  [ -n "$stats" ] && [ -n "$tsc" ] || { echo "-"; return; }
  awk -v s="$stats" -v t="$tsc" 'BEGIN { split(s, a, " ");
    if (a[2] > 0) printf "%d exits in %.3f s of its lifetime: %.1f exits/s", a[1], a[2] / (t * 1000), a[1] / (a[2] / (t * 1000)) }'
}

echo "== SMP: multi-vCPU guests (guests/smp/)"

# ---- IPI round trip ----------------------------------------------------------------------
echo "-- IPI round trip between two vCPUs of one VM, seen by vCPU 0 (guest TSC cycles)"
PEREGRINE_ICOUNT=1 PEREGRINE_CPUS=1 timeout -k 5 300 scripts/run-qemu.sh $out/smp-ipi.iso \
  > $out/smp-ipi-qemu.log 2>/dev/null
echo "  AMD-V, qemu -smp 1 -icount shift=0 (both vCPUs on one CPU; cycles = emulated instructions):"
echo "    waiting in HLT:      $(bench_value $out/smp-ipi-qemu.log pingpong 'BENCH ipi-roundtrip ')"
echo "    spinning (IF = 1):   $(bench_value $out/smp-ipi-qemu.log pingpong 'BENCH ipi-roundtrip-spin ') (each hop waits for the other vCPU's time slice)"
cpu_lines $out/smp-ipi-qemu.log
PEREGRINE_BOCHS_CPUS=2 timeout -k 5 400 scripts/run-bochs.sh $out/smp-ipi.iso 380 \
  $out/smp-ipi-bochs.log > /dev/null 2>&1
echo "  Intel VT-x, Bochs cpu count=2, $(online $out/smp-ipi-bochs.log) CPU(s) online (cycles = instructions):"
echo "    waiting in HLT:      $(bench_value $out/smp-ipi-bochs.log pingpong 'BENCH ipi-roundtrip ')"
echo "    spinning (IF = 1):   $(bench_value $out/smp-ipi-bochs.log pingpong 'BENCH ipi-roundtrip-spin ')"
cpu_lines $out/smp-ipi-bochs.log

# ---- gang against shared -----------------------------------------------------------------
echo "-- Bulk-synchronous barrier: two 4-vCPU VMs (30 rounds of a 20000-step chunk, then a"
echo "   barrier), qemu -smp 4, TCG (multi-threaded; TSC cycles as each guest sees them, not"
echo "   hardware time)"
for mode in gang shared; do
  PEREGRINE_CPUS=4 timeout -k 5 600 scripts/run-qemu.sh $out/smp-$mode.iso \
    > $out/smp-$mode.log 2>/dev/null
done
declare -A cycles
for mode in gang shared; do
  echo "  sched=$mode ($(online $out/smp-$mode.log) CPU(s) online):"
  for vm in bsp-a bsp-b; do
    value=$(bench_value $out/smp-$mode.log $vm 'BENCH barrier iterations=30 cycles=')
    cycles[$mode-$vm]=$value
    if [ -n "$value" ]; then
      echo "    $vm: $value cycles, steady-state exits $(bench_value $out/smp-$mode.log $vm 'BENCH barrier steady-exits=')"
    else
      echo "    $vm: not run: $(refusal $out/smp-$mode.log $vm)"
    fi
  done
  cpu_lines $out/smp-$mode.log
done
for vm in bsp-a bsp-b; do
  g=${cycles[gang-$vm]}; s=${cycles[shared-$vm]}
  if [ -n "$g" ] && [ -n "$s" ]; then
    awk -v g="$g" -v s="$s" -v vm="$vm" 'BEGIN { printf "  %s: shared / gang completion = %.2f\n", vm, s / g }'
  else
    echo "  $vm: no shared / gang ratio (a run did not finish or was refused)"
  fi
done

# ---- pinned: exits per second ------------------------------------------------------------
echo "-- Pinned VMs: exits per second over the VM's lifetime (end-of-run statistics; the guest"
echo "   has no timer, so the goal is 0 beyond its own setup and report exits), qemu -smp 4"
PEREGRINE_CPUS=4 timeout -k 5 300 scripts/run-qemu.sh $out/smp-pinned.iso > $out/smp-pinned.log 2>/dev/null
if [ -n "$(bench_value $out/smp-pinned.log bsp-pinned 'BENCH barrier steady-exits=')" ]; then
  echo "  barrier, 4 vCPUs pinned: $(exits_per_second $out/smp-pinned.log bsp-pinned);" \
    "exits during the rounds (guest-counted, all vCPUs): $(bench_value $out/smp-pinned.log bsp-pinned 'BENCH barrier steady-exits=')," \
    "$(bench_value $out/smp-pinned.log bsp-pinned 'BENCH barrier iterations=30 cycles=') cycles"
else
  echo "  barrier, 4 vCPUs pinned: not run: $(refusal $out/smp-pinned.log bsp-pinned)"
fi
cpu_lines $out/smp-pinned.log
PEREGRINE_CPUS=4 timeout -k 5 300 scripts/run-qemu.sh $out/smp-pinned-compute.iso \
  > $out/smp-pinned-compute.log 2>/dev/null
echo "  compute loop, 1 vCPU pinned: $(exits_per_second $out/smp-pinned-compute.log compute)" \
  "(setup and report: console output)"
bench_value $out/smp-pinned-compute.log compute 'BENCH pinned-compute ' | awk -v t="$(tsc_per_ms $out/smp-pinned-compute.log)" '
  { split($1, e, "="); split($2, c, "=");
    if (t > 0 && c[2] > 0) printf "    steady state (guest-counted): %d exits in %.3f s: %.1f exits/s\n", e[2], c[2] / (t * 1000), e[2] / (c[2] / (t * 1000)) }'
cpu_lines $out/smp-pinned-compute.log
echo "  for comparison, the shared barrier run's exits during the rounds (slice ends of vCPUs"
echo "  sharing a CPU): bsp-a $(bench_value $out/smp-shared.log bsp-a 'BENCH barrier steady-exits='), bsp-b $(bench_value $out/smp-shared.log bsp-b 'BENCH barrier steady-exits=')"
echo "(logs: $out/smp-*.log)"
