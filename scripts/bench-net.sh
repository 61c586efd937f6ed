#!/usr/bin/env bash
# The guest network's measurements (scripts/bench-net.py, docs/guest-io.md): ping between two
# Debian VMs on one node through the node's switch, in exits, emulated instructions and bytes
# copied per packet, beside the same ping between two plain QEMU guests. build/bench/net.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
python3 scripts/bench-net.py
