#!/usr/bin/env bash
# ControlProtocol's costs on the host: SHA-256 throughput, and the time and (with valgrind)
# the instruction count of receiving one 128-byte request (ControlReceiver.receive:
# authenticate, epoch, replay window, response cache, decode). The module's sources are
# compiled whole-module with -O, as the kernel compiles them (its Embedded object has the
# same SHA-256 compression loop, instruction for instruction within a few).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTC=${SWIFTC:-/opt/swift/usr/bin/swiftc}
mkdir -p build/bench
# shellcheck disable=SC2046
"$SWIFTC" -O -wmo -parse-as-library -module-name Bench $(find Sources/ControlProtocol -name '*.swift' | sort) \
  scripts/bench/control-protocol.swift -o build/bench/control-protocol
build/bench/control-protocol
if command -v valgrind >/dev/null; then
  count() {
    valgrind --tool=callgrind --callgrind-out-file=build/bench/control-protocol.callgrind."$1" \
      build/bench/control-protocol receive "$1" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes build/bench/control-protocol.callgrind."$1" 2>/dev/null \
      | grep 'ControlReceiverV7receive' | head -1 | awk '{gsub(",", "", $1); print $1}'
  }
  one=$(count 1)
  many=$(count 1001)
  echo "receive: $(((many - one) / 1000)) instructions per 128-byte request (callgrind, host -O build)"
fi
