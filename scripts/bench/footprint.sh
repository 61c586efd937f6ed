#!/usr/bin/env bash
# The footprint: the hypervisor's sections from its ELF (build/peregrine.elf), and the memory
# each VM held beyond its RAM, from the kernel's own accounting (the "  memory:" line of the
# VM's end report, in the logs the other bench parts left in $BENCH_OUT). Writes
# $BENCH_OUT/footprint.csv: what,item,bytes.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${BENCH_OUT:-build/bench}
bin=${SWIFT_BIN:-/opt/swift/usr/bin}
# "name bytes" for the ELF's .text, .rodata, .data and .bss (sizes are hex in llvm-objdump -h).
sections() {
  "$bin/llvm-objdump" -h "$1" | while read -r _ name size _; do
    case $name in .text | .rodata | .data | .bss) echo "${name#.} $((16#$size))" ;; esac
  done
}
# `footprint.sh --sections ELF`: only that (scripts/bench-compare.sh).
if [ "${1:-}" = --sections ]; then sections "$2"; exit; fi
elf=build/peregrine.elf
[ -s "$elf" ] || make --no-print-directory -s kernel || exit 1
csv=$out/footprint.csv
echo "what,item,bytes" > "$csv"
sections "$elf" | while read -r name bytes; do echo "hypervisor,$name,$bytes"; done >> "$csv"
# The kernel heap is a fixed arena inside .bss (linker.ld): VM objects live there.
heap_start=$("$bin/llvm-nm" "$elf" | awk '$3 == "__heap_start" {print $1}')
heap_end=$("$bin/llvm-nm" "$elf" | awk '$3 == "__heap_end" {print $1}')
[ -n "$heap_start" ] && [ -n "$heap_end" ] \
  && echo "hypervisor,heap arena (in bss),$((16#$heap_end - 16#$heap_start))" >> "$csv"
# "  memory: guest RAM R KiB; beyond it B KiB at creation, nested page tables P KiB now"
for log in "$out"/exit-cost-svm.log "$out"/exit-cost-vmx.log "$out"/linux-svm.log "$out"/linux-vmx.log; do
  [ -s "$log" ] || continue
  backend=${log##*-}; backend=${backend%.log}
  tr -d '\r' < "$log" | awk -v b="$backend" '
    match($0, /vm [a-z0-9-]+: lifetime/) {split(substr($0, RSTART + 3), w, ":"); vm=w[1]}
    vm != "" && $1 == "memory:" {
      printf "vm %s (%s),guest RAM,%d\n", vm, b, $4 * 1024
      printf "vm %s (%s),beyond RAM at creation,%d\n", vm, b, $8 * 1024
      printf "vm %s (%s),nested page tables,%d\n", vm, b, $15 * 1024
      vm = "" }' >> "$csv"
done
column -s, -t < "$csv"
