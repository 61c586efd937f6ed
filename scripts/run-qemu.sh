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
# PEREGRINE_TCG_SINGLE=1: one TCG thread for all CPUs instead of QEMU's multi-threaded TCG,
# which under load sometimes triple-faults the host right after a #VMEXIT (docs/smp.md).
# One thread delivers cross-CPU IPIs only at its round-robin switches, so multi-CPU guests
# that wait on each other run much slower there.
[ "${PEREGRINE_TCG_SINGLE:-0}" = 1 ] && [ "${PEREGRINE_ICOUNT:-0}" != 1 ] && extra+=(-accel tcg,thread=single)
exec qemu-system-x86_64 -machine pc -cpu EPYC -smp "${PEREGRINE_CPUS:-2}" -m "$memory" \
  -cdrom "$iso" -boot d -display none -serial stdio -monitor none -no-reboot \
  "${extra[@]}" "$@"
