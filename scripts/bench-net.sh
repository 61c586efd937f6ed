#!/usr/bin/env bash
# The guest network's measurements (scripts/bench-net.py, docs/guest-io.md): two Debian VMs
# on two nodes (one QEMU data segment): ping round trip, a 2 MiB TCP transfer's guest time,
# exits per packet (a clean difference against an idle run), copies and bytes copied per
# packet; beside the same between two plain QEMU guests. build/bench/net.csv and
# build/bench/network.csv (path,exits_per_packet,copies_per_packet,rtt_ratio,throughput_ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
python3 scripts/bench-net.py
