#!/usr/bin/env bash
# Smoke-test one guest binary on bare QEMU (no hypervisor): guests/smoke/run.sh GUEST.bin [SECONDS]
# The guest's COM1 output goes to this terminal; port 0xF4 is QEMU's isa-debug-exit, so the
# exit status is (code << 1) | 1 when the guest reaches its fallback stop. Expect the
# hypervisor-specific checks to FAIL here; this only exercises mode switches and control flow.
set -euo pipefail
guest=$1
seconds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
bios=$(mktemp /tmp/guest-bios.XXXXXX)
trap 'rm -f "$bios"' EXIT
${NASM:-nasm} -f bin -DGUEST="\"$(realpath "$guest")\"" -o "$bios" "$here/bios-wrapper.nasm"
status=0
timeout "$seconds" qemu-system-x86_64 -machine pc -cpu "${SMOKE_CPU:-EPYC}" -m 16M -bios "$bios" \
  -display none -serial stdio -monitor none -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${@:3}" || status=$?
echo "[smoke] qemu exit status $status"
