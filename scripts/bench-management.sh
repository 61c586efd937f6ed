#!/usr/bin/env bash
# The management plane's measurements (scripts/bench-management.py): create to the first
# console line of Debian's kernel, control round trip, image transfer, with the release CLI
# against one node under QEMU TCG. Wall time of an emulated node, not hardware figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
# The node kernel (build/peregrine.elf) and the guests (the ticker) that the ISO target builds.
make --no-print-directory -s iso ISO=build/bench/management.iso CMDLINE="loglevel=info" GUEST_MODULES=
make --no-print-directory cli CLI_CONFIGURATION=release
python3 scripts/bench-management.py
