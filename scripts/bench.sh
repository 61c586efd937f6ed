#!/usr/bin/env bash
# `make bench`: the researcher's bench. Each part is a script in scripts/bench/ that writes
# its CSV files into build/bench (BENCH_OUT) and prints a table; then plots and a report.
#   exit-costs.csv         exit round trips per reason per backend (scripts/bench/exit-costs.sh)
#   linux-boot.csv         Linux boot to /init inside Peregrine and on bare QEMU microvm/pc
#   linux-exits.csv        the Linux VM's exits per reason (scripts/bench/linux-boot.sh)
#   os-noise.csv, os-noise-histogram.csv   selfish detour inside and bare (scripts/bench/os-noise.sh)
#   footprint.csv          hypervisor sections, memory per VM beyond RAM (scripts/bench/footprint.sh)
#   disk.csv               virtio-blk throughput and exits per request (scripts/bench/disk.sh)
#   net.csv, network.csv   guest NICs between two nodes against plain QEMU (scripts/bench-net.sh, run by make bench)
#   nvme.csv               an NVMe SR-IOV VF in a VM against native (scripts/bench-nvme.sh, run by
#                          make bench after bench-net.sh; BENCH_NVME=0 skips it)
#   report.md, *.png       scripts/bench/plots.py (matplotlib from Debian's python3-matplotlib)
# Every figure is an emulated-instruction count (QEMU -icount shift=0, Bochs sync=none), not
# wall time. A part that fails is reported and the others still run; the exit status says.
set -uo pipefail
cd "$(dirname "$0")/.."
export BENCH_OUT=${BENCH_OUT:-build/bench}
mkdir -p "$BENCH_OUT"
status=0
part() { "$@" || { echo "bench: $1 failed"; status=1; }; echo; }

part scripts/bench/exit-costs.sh both
echo "Reference (same emulator and method): Linux 6.1 KVM ~2700 (CPUID), ~2900 (VMMCALL);"
echo "a bare VMRUN loop < 30; a minimal C hypervisor 71 (CPUID)."
echo
part scripts/bench/linux-boot.sh
part scripts/bench/os-noise.sh
part scripts/bench/footprint.sh
# SMP: IPI round trips, gang against shared, pinned exits per second (guests/smp/).
part scripts/bench-smp.sh
# Guest I/O: virtio-blk throughput and exits per request (docs/guest-io.md).
part scripts/bench/disk.sh
part /usr/bin/python3 scripts/bench/plots.py "$BENCH_OUT"
exit $status
