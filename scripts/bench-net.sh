#!/usr/bin/env bash
# The guest network's measurements (docs/guest-io.md, docs/passthrough.md), every QEMU under
# -icount shift=0, each repeated BENCH_NET_RUNS times (default 3; the tables hold medians):
# - scripts/bench-net.py: two Debian VMs on two nodes (one QEMU data segment) against the
#   same two guests under plain QEMU: UDP round trips without their wire (guests/linux/
#   pingpong.c), ping round trip, a 2 MiB TCP transfer's guest time and CPU cost, exits per
#   packet (a clean difference against an idle run), copies and bytes copied per packet:
#   build/bench/net.csv, net-bridge-runs.csv, net-rtt.csv's and network.csv's bridge rows.
# - scripts/bench-net-bypass.py: a Linux VM driving a passed-through virtio-net (the
#   integration case qemu-svm-passthrough-linux-net in bench mode) against the same guest and
#   device under plain QEMU, with interrupts and with NAPI busy polling: network.csv's native,
#   bypass-polled and bypass-interrupts rows, net-rtt.csv's rows, net-bypass-runs.csv.
# build/bench/network.csv: path,exits_per_packet,copies_per_packet,rtt_ratio,throughput_ratio
# (rtt_ratio: the round trip without its wire; throughput_ratio: native's CPU time for the
# transfer over the path's; both in emulated instructions: scripts/bench/round_trip.py).
# build/bench/network-cost.csv (scripts/bench/net_cost.py, written by bench-net-bypass.py from
# both scripts' records): the transfers' CPU cost, busy guest ns = instructions under -icount,
# per path and direction against native: the clock-independent figure (docs/passthrough.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-linux-fixtures.sh
python3 scripts/bench-net.py
make --no-print-directory -s cli CLI_CONFIGURATION=debug
python3 scripts/bench-net-bypass.py
cat build/bench/network.csv build/bench/network-cost.csv
