#!/usr/bin/env bash
# OS noise: the selfish-detour guest (guests/bench/os-noise.asm) inside Peregrine (AMD-V,
# QEMU -cpu EPYC -icount shift=0) and bare: the same binary behind a boot sector
# (scripts/bench/noise-boot-sector.asm) under plain QEMU -M pc -icount shift=0, started in
# real mode at 0x1000 as Peregrine starts it. Writes $BENCH_OUT (default build/bench):
# Inside Peregrine twice: the VM alone on its CPU (peregrine), and sharing the node's one CPU
# with a second copy of itself (peregrine-shared).
#   os-noise.csv            setup,span_cycles,iterations,min_gap,detours,lost_cycles,lost_fraction,max_detour
#   os-noise-histogram.csv  setup,detour_from_cycles,detours,cycles   (powers of two)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
guest=build/guests/bench/os-noise.bin
make --no-print-directory -s iso ISO="$out/os-noise.iso" CMDLINE="loglevel=info batch" \
  GUEST_MODULES="$guest:vm name=noise" || exit 1

PEREGRINE_ICOUNT=1 timeout 600 scripts/run-qemu.sh "$out/os-noise.iso" > "$out/os-noise-peregrine.log" 2>/dev/null
# The same VM sharing the node's only CPU with a second copy of itself: the detours are then
# the other VM's time slices and the switches between them (the scheduler's own noise).
make --no-print-directory -s iso ISO="$out/os-noise-shared.iso" CMDLINE="loglevel=info batch" \
  GUEST_MODULES="$guest:vm name=noise;$guest:vm name=other" || exit 1
PEREGRINE_CPUS=1 PEREGRINE_ICOUNT=1 timeout 900 scripts/run-qemu.sh "$out/os-noise-shared.iso" \
  > "$out/os-noise-peregrine-shared.log" 2>/dev/null

sectors=$(( ($(stat -c %s "$guest") + 511) / 512 ))
nasm -f bin -D SECTORS=$sectors -o "$out/noise-boot-sector.bin" scripts/bench/noise-boot-sector.asm || exit 1
cat "$out/noise-boot-sector.bin" "$guest" > "$out/os-noise-native.img"
truncate -s $(( (sectors + 1) * 512 + 65536 )) "$out/os-noise-native.img"
timeout 300 qemu-system-x86_64 -machine pc -cpu EPYC -icount shift=0 -m 64M -display none \
  -serial stdio -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -drive file="$out/os-noise-native.img",format=raw < /dev/null > "$out/os-noise-native.log" 2>/dev/null

csv=$out/os-noise.csv; hist=$out/os-noise-histogram.csv
echo "setup,span_cycles,iterations,min_gap,detours,lost_cycles,lost_fraction,max_detour" > "$csv"
echo "setup,detour_from_cycles,detours,cycles" > "$hist"
status=0
for setup in peregrine peregrine-shared native; do
  log=$out/os-noise-$setup.log
  if ! grep -aq "NOISE done" "$log"; then echo "os-noise $setup did not finish (log: $log)"; status=1; continue; fi
  # Inside Peregrine only the VM named noise (its lines are tagged "[noise] "); bare, all.
  tr -d '\r' < "$log" | { if [ "$setup" = native ]; then cat; else sed -n 's/^\[noise\] //p'; fi; } | awk -v s="$setup" -v csv="$csv" -v hist="$hist" '
    $1 != "NOISE" {next}
    $2 == "span" {span=$3; iter=$7; gap=$9}
    $2 == "detours" {n=$3; lost=$5; max=$7}
    $2 == "bucket" {printf "%s,%s,%s,%s\n", s, $3, $4, $5 >> hist}
    END {printf "%s,%s,%s,%s,%s,%s,%.6f,%s\n", s, span, iter, gap, n, lost, lost / span, max >> csv}'
done
echo "== OS noise: selfish detour over 1e8 cycles, detours above 100 cycles"
awk -F, 'NR > 1 {printf "%-10s %6d detours, %12d cycles lost (%.4f%% of the time), longest %d\n", $1, $5, $6, 100 * $7, $8}' "$csv"
exit $status
