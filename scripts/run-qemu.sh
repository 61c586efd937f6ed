#!/usr/bin/env bash
# Boots a Peregrine ISO under QEMU TCG with an AMD EPYC CPU (SVM with nested paging), the
# serial console on this terminal, and the isa-debug-exit device at 0xF4 so the hypervisor
# can end the run with a status: QEMU then exits with (status << 1) | 1.
#   run-qemu.sh ISO [extra qemu args...]      (PEREGRINE_ICOUNT=1 adds -icount shift=0)
# PEREGRINE_NET=NETDEV gives the node a modern virtio-net NIC on that QEMU network back end
# (docs/management-network.md), e.g. PEREGRINE_NET=user,hostfwd=udp:127.0.0.1:17007-:7
# (the host reaches the node's UDP port 7 at 127.0.0.1:17007) or
# PEREGRINE_NET=socket,udp=127.0.0.1:A,localaddr=127.0.0.1:B (raw Ethernet frames as UDP
# datagrams: another node or a test). PEREGRINE_NET_MAC sets its MAC; PEREGRINE_NET_MODEL=e1000
# gives an Intel 82540EM instead (the NIC Bochs offers). Unset: no NIC of ours (QEMU's
# default e1000 on its user network stays, as before).
# PEREGRINE_MACHINE picks QEMU's machine (default pc); PEREGRINE_IOMMU=intel adds a VT-d unit
# (`-device intel-iommu,intremap=on`, before any NIC: QEMU wants the IOMMU first; intel-48
# adds aw-bits=48, so SAGAW offers 4-level tables) and needs
# PEREGRINE_MACHINE=q35,kernel-irqchip=split (docs/iommu.md). PEREGRINE_IOMMU=amd adds an
# AMD-Vi IOMMU instead (`-device amd-iommu`, published in an IVRS table; q35 only).
# PEREGRINE_CPU_FEATURES is appended to `-cpu EPYC`, e.g. ",+pku" (a feature TCG emulates that
# EPYC lacks: the node's guests are offered it, docs/kvm-unit-tests.md).
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
case "${PEREGRINE_IOMMU:-}" in
  intel) extra+=(-device intel-iommu,intremap=on) ;;
  intel-48) extra+=(-device intel-iommu,intremap=on,aw-bits=48) ;;  # 4-level tables offered
  amd) extra+=(-device amd-iommu) ;;
esac
if [ -n "${PEREGRINE_NET:-}" ]; then
  extra+=(-netdev "${PEREGRINE_NET},id=peregrine-net0"
    -device "${PEREGRINE_NET_MODEL:-virtio-net-pci,disable-legacy=on},netdev=peregrine-net0${PEREGRINE_NET_MAC:+,mac=$PEREGRINE_NET_MAC}")
fi
# PEREGRINE_DATA_NET=PORT gives the node a data NIC, the uplink of its guest switch
# (docs/guest-io.md): a second modern virtio-net in PCI slot 0x10 on QEMU's multicast socket
# segment 230.0.0.1:PORT, which every node started with the same PORT shares without
# privileges. PEREGRINE_DATA_MAC sets its MAC (default 52:54:00:51:00:00).
if [ -n "${PEREGRINE_DATA_NET:-}" ]; then
  extra+=(-netdev "socket,id=peregrine-data0,mcast=230.0.0.1:${PEREGRINE_DATA_NET},localaddr=127.0.0.1"
    -device "virtio-net-pci,disable-legacy=on,netdev=peregrine-data0,addr=0x10,mac=${PEREGRINE_DATA_MAC:-52:54:00:51:00:00}")
fi
# The ISO is a CD on an AHCI controller of its own in slot 0x1d, not -cdrom's IDE: SeaBIOS
# reads ATAPI on IDE by PIO, a port exit per word under TCG, and GRUB took 2.45 s to load a
# Linux ISO that way against 0.75 s over AHCI's DMA. (Slot 0x1d: free on pc and q35, and
# apart from the slots tests give devices.)
exec qemu-system-x86_64 -machine "${PEREGRINE_MACHINE:-pc}" -cpu "EPYC${PEREGRINE_CPU_FEATURES:-}" -smp "${PEREGRINE_CPUS:-2}" -m "$memory" \
  -drive "file=${iso//,/,,},media=cdrom,if=none,id=boot-cd,readonly=on" -device ahci,id=boot-ahci,addr=0x1d \
  -device ide-cd,drive=boot-cd,bus=boot-ahci.0,bootindex=0 \
  -display none -serial stdio -monitor none -no-reboot \
  "${extra[@]}" "$@"
