#!/usr/bin/env bash
# Disk throughput and exits per request (issue 13): /init's `diskbench=N` (guests/linux/init)
# writes N MiB to /dev/vda in 1 MiB O_DIRECT blocks and reads them back, on a zeroed raw
# image given to the Linux VM as its virtio-blk disk (docs/guest-io.md). Runs under QEMU
# -icount shift=0, so the guest clock counts emulated instructions (1 ns each), not wall time:
#   peregrine-svm      inside Peregrine (AMD-V, QEMU -cpu EPYC), diskbench=N
#   peregrine-svm-idle the same VM with diskbench=0 (modules loaded, nothing moved): the
#                      exits the transfer made are the difference of the two VMs' exits
#   qemu-pc            Linux booted directly by QEMU -M pc with QEMU's own virtio-blk-pci
# Writes $BENCH_OUT/disk.csv (default build/bench):
#   setup,mib,write_ns,read_ns,guest_reads,guest_writes,device_requests,notifications,vm_exits,exits_per_request
# exits_per_request: (exits of peregrine-svm - exits of peregrine-svm-idle) / (its device
# requests - the idle VM's), every exit the VM took while its requests were made and served.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${BENCH_OUT:-build/bench}
mib=${BENCH_DISK_MIB:-32}
mkdir -p "$out"
scripts/fetch-linux-fixtures.sh > /dev/null || { echo "could not fetch the Linux fixtures"; exit 1; }
image=$out/disk-bench.img
rm -f "$image" && truncate -s $((mib + 8))M "$image"
cmdline="console=ttyS0 panic=-1 quiet"
for n in "$mib" 0; do
  make --no-print-directory -s iso ISO="$out/disk-$n.iso" CMDLINE="loglevel=info batch" \
    GUEST_KERNEL=build/linux/vmlinuz GUEST_INITRD=build/linux/initramfs.cpio.gz \
    GUEST_DISK="$image" GUEST_DISK_NAME=bench GUEST_CMDLINE="$cmdline diskbench=$n" || exit 1
done

echo "== virtio-blk: $mib MiB written and read back in 1 MiB O_DIRECT blocks, -icount shift=0"
for n in "$mib" 0; do
  PEREGRINE_ICOUNT=1 timeout 1200 scripts/run-qemu.sh "$out/disk-$n.iso" > "$out/disk-svm-$n.log" 2> /dev/null
done
timeout 1200 qemu-system-x86_64 -M pc -cpu EPYC -icount shift=0 -m 256M -nographic -no-reboot \
  -kernel build/linux/vmlinuz -initrd build/linux/initramfs.cpio.gz \
  -append "$cmdline diskbench=$mib" -drive file="$image",if=none,format=raw,id=d0 \
  -device virtio-blk-pci,drive=d0,serial=bench < /dev/null > "$out/disk-qemu-pc.log" 2>&1

# "DISK-BENCH mib=N write-ns=W read-ns=R reads=r writes=w" (the guest, prefixed "[linux] "
# inside Peregrine); "  exits: E in C cycles" and "  disk bench: S bytes, Q requests (...),
# ... N notifications" (the VM's end report).
guest() {
  tr -d '\r' < "$1" | awk '{sub(/^\[linux\] /, "")} $1 == "DISK-BENCH" {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s,%s,%s,%s,%s\n", v["mib"], v["write-ns"], v["read-ns"], v["reads"], v["writes"]; exit }'
}
host() {
  tr -d '\r' < "$1" | awk '
    /vm linux: lifetime / {on=1; next}
    on && /^  exits: / {exits=$2}
    on && /^  disk bench: / {
      for (i = 1; i <= NF; i++) { if ($i == "requests") q=$(i-1); if ($i == "notifications") n=$(i-1) } }
    on && /^summary/ {exit}
    END {printf "%s,%s,%s\n", q, n, exits}'
}
csv=$out/disk.csv
echo "setup,mib,write_ns,read_ns,guest_reads,guest_writes,device_requests,notifications,vm_exits,exits_per_request" > "$csv"
status=0
busy=$(guest "$out/disk-svm-$mib.log"); busy_host=$(host "$out/disk-svm-$mib.log")
idle=$(guest "$out/disk-svm-0.log"); idle_host=$(host "$out/disk-svm-0.log")
native=$(guest "$out/disk-qemu-pc.log")
IFS=, read -r q1 _ e1 <<<"$busy_host"
IFS=, read -r q0 _ e0 <<<"$idle_host"
per=""
if [ -n "$q1" ] && [ -n "$q0" ] && [ -n "$e1" ] && [ -n "$e0" ] && [ "$q1" -gt "$q0" ]; then
  per=$(awk -v e1="$e1" -v e0="$e0" -v q1="$q1" -v q0="$q0" 'BEGIN {printf "%.2f", (e1 - e0) / (q1 - q0)}')
fi
for row in "peregrine-svm,$busy,$busy_host,$per" "peregrine-svm-idle,$idle,$idle_host," "qemu-pc,$native,,,,"; do
  IFS=, read -r setup m _ <<<"$row"
  if [ -z "$m" ]; then echo "$setup: no DISK-BENCH line (log in $out)"; status=1; fi
  echo "$row" >> "$csv"
done
awk -F, 'NR > 1 && $3 != "" && $2 > 0 {
  printf "%-18s write %6.1f MiB per 10^9 emulated instructions, read %6.1f", $1, $2 * 1e9 / $3, $2 * 1e9 / $4
  if ($7 != "") printf ", %s device requests, %s notifications, %s exits", $7, $8, $9
  if ($10 != "") printf ", %s exits per request", $10
  printf "\n" }' "$csv"
echo "table: $csv"
exit $status
