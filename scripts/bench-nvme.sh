#!/usr/bin/env bash
# NVMe SR-IOV passthrough against native, clock-independent (docs/passthrough.md, "NVMe VF
# against native"): scripts/bench-nvme.py, every QEMU under -icount shift=0, a VM on a VF of
# the SR-IOV case's node against the same guest on the subsystem's primary controller under
# plain QEMU; 4 KiB O_DIRECT reads and writes at queue depth 1 and 4, BENCH_NVME_RUNS times
# (default 3, about 2.5 min each). Writes build/bench/nvme.csv
# (path,queue_depth,op,ios,busy_ns_per_io,busy_ratio,exits_per_io,runs) and nvme-runs.csv.
# BENCH_NVME=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_NVME:-1}" = 0 ]; then
  echo "bench-nvme: skipped (BENCH_NVME=0)"
  exit 0
fi
# The Linux fixtures (with /bin/nvmeio) and the node's kernel, as the SR-IOV case has them.
python3 Tests/Integration/run.py --prepare-only qemu-svm-sriov-nvme-linux
make --no-print-directory -s cli CLI_CONFIGURATION=debug
python3 scripts/bench-nvme.py
