#!/usr/bin/env bash
# Live migration and checkpoint/restore figures (scripts/bench-migration.py): two AMD-V
# nodes under QEMU TCG, Debian's kernel with /init's counter (idle) and counter plus dirty=M
# (busy), sizes BENCH_SIZES (MiB, default 96,128). Wall time of emulated nodes, not hardware
# figures: build/bench/migration.csv and build/bench/checkpoint.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
# The node kernel (build/peregrine.elf) that `node up` boots.
make --no-print-directory -s iso ISO=build/bench/management.iso CMDLINE="loglevel=info" GUEST_MODULES=
make --no-print-directory cli CLI_CONFIGURATION="${CLI_CONFIGURATION:-release}"
python3 scripts/bench-migration.py
