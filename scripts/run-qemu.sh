#!/usr/bin/env bash
# Boots a Peregrine ISO under QEMU TCG with an AMD EPYC CPU (SVM with nested paging), the
# serial console on this terminal, and the isa-debug-exit device at 0xF4 so the hypervisor
# can end the run with a status: QEMU then exits with (status << 1) | 1.
#   run-qemu.sh ISO [extra qemu args...]      (PEREGRINE_ICOUNT=1 adds -icount shift=0)
set -uo pipefail
iso=$1; shift
memory=${PEREGRINE_MEMORY:-1G}
extra=()
# The debug-exit device carries a status for tests; without it (PEREGRINE_DEBUG_EXIT=0, as
# `make run` does) the hypervisor powers QEMU off through ACPI and QEMU exits with 0.
[ "${PEREGRINE_DEBUG_EXIT:-1}" = 1 ] && extra+=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
[ "${PEREGRINE_ICOUNT:-0}" = 1 ] && extra+=(-icount shift=0)
# Multi-threaded TCG with SVM loses the host's page tables after some #VMEXITs under load:
# the host's next instruction fetch faults "not present" with the guest's TR still loaded,
# a triple fault (docs/smp.md). One TCG thread for all CPUs avoids it; PEREGRINE_MTTCG=1
# keeps QEMU's default. -icount needs one thread anyway.
[ "${PEREGRINE_MTTCG:-0}" = 1 ] || [ "${PEREGRINE_ICOUNT:-0}" = 1 ] || extra+=(-accel tcg,thread=single)
exec qemu-system-x86_64 -machine pc -cpu EPYC -smp "${PEREGRINE_CPUS:-2}" -m "$memory" \
  -cdrom "$iso" -boot d -display none -serial stdio -monitor none -no-reboot \
  "${extra[@]}" "$@"
