#!/usr/bin/env bash
# The guest network's measurements (scripts/bench-net.py, docs/guest-io.md): two Debian VMs
# on two nodes (one QEMU data segment): ping round trip, a 2 MiB TCP transfer's guest time,
# exits per packet (a clean difference against an idle run), copies and bytes copied per
# packet; beside the same between two plain QEMU guests. build/bench/net.csv and
# build/bench/network.csv (path,exits_per_packet,copies_per_packet,rtt_ratio,throughput_ratio),
# then the passthrough rows (bypass-interrupts, bypass-polled) from the integration case.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
python3 scripts/bench-net.py
# The VMM-bypass rows (docs/passthrough.md): a Linux VM driving a passed-through virtio-net,
# measured by the integration case, which appends bypass-interrupts and bypass-polled to
# network.csv when PEREGRINE_BENCH_NETWORK_CSV names it (RTT and throughput ratios empty).
make --no-print-directory -s cli CLI_CONFIGURATION=debug
PEREGRINE_BENCH_NETWORK_CSV="$PWD/build/bench/network.csv" \
  python3 Tests/Integration/run.py passthrough-linux-net
cat build/bench/network.csv
