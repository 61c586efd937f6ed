#!/usr/bin/env bash
# Linux boot: Debian's kernel and the busybox initramfs (scripts/fetch-linux-fixtures.sh),
# from the kernel's clock start to /init (CLOCK_MONOTONIC, which under -icount shift=0
# counts emulated instructions as ns), inside Peregrine (AMD-V, QEMU -cpu EPYC) and booted
# directly by QEMU on the machine closest to Peregrine's VM: `-M microvm` with ACPI, no RTC,
# no option ROMs (a UART, PIT, PIC, I/O APIC and local APICs, no PCI), the same command
# line. Writes $BENCH_OUT (default build/bench):
#   linux-boot.csv    setup,machine,ns_to_init,exits,exit_cycles,vm_lifetime_cycles
#   linux-exits.csv   backend,reason,exits,cycles,cycles_per_exit   (the VM's end report)
# BENCH_LINUX_VMX=1 also boots it inside Peregrine on VT-x (Bochs: tens of minutes) for
# the exits per reason there.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
cmdline="console=ttyS0 panic=-1 quiet"
scripts/fetch-linux-fixtures.sh > /dev/null || { echo "could not fetch the Linux fixtures"; exit 1; }
make --no-print-directory -s iso ISO="$out/linux.iso" CMDLINE="loglevel=info batch" \
  GUEST_KERNEL=build/linux/vmlinuz GUEST_INITRD=build/linux/initramfs.cpio.gz \
  GUEST_CMDLINE="$cmdline" || exit 1

echo "== Linux boot to /init, -icount shift=0 (kernel clock at /init, emulated instructions)"
PEREGRINE_ICOUNT=1 timeout 900 scripts/run-qemu.sh "$out/linux.iso" > "$out/linux-svm.log" 2>/dev/null
timeout 1200 qemu-system-x86_64 -M microvm,acpi=on,rtc=off,x-option-roms=off,auto-kernel-cmdline=off \
  -cpu EPYC -icount shift=0 -m 256M -nographic -no-reboot \
  -kernel build/linux/vmlinuz -initrd build/linux/initramfs.cpio.gz -append "$cmdline" \
  < /dev/null > "$out/linux-microvm.log" 2>&1
timeout 1200 qemu-system-x86_64 -M pc -cpu EPYC -icount shift=0 -m 256M -nographic -no-reboot \
  -kernel build/linux/vmlinuz -initrd build/linux/initramfs.cpio.gz -append "$cmdline" \
  < /dev/null > "$out/linux-pc.log" 2>&1
if [ "${BENCH_LINUX_VMX:-0}" = 1 ]; then
  timeout -k 5 3600 scripts/run-bochs.sh "$out/linux.iso" 3580 "$out/linux-vmx.log" > /dev/null 2>&1
fi

# The VM's end report: "vm linux: lifetime L cycles ...", "  exits: E in C cycles", then
# "    <reason>: N exits, C cycles, P per exit".
exits_csv=$out/linux-exits.csv
echo "backend,reason,exits,cycles,cycles_per_exit" > "$exits_csv"
for backend in svm vmx; do
  log=$out/linux-$backend.log
  [ -s "$log" ] || continue
  tr -d '\r' < "$log" | awk -v b="$backend" '
    /vm linux: lifetime / {on=1; next}
    on && /^summary/ {exit}
    on && match($0, /^    (.+): ([0-9]+) exits, ([0-9]+) cycles, ([0-9]+) per exit$/) {
      line = $0; sub(/^    /, "", line); split(line, parts, ": ")
      split(parts[2], f, /[ ,]+/)
      printf "%s,%s,%s,%s,%s\n", b, parts[1], f[1], f[3], f[5] }' >> "$exits_csv"
done

boot_csv=$out/linux-boot.csv
echo "setup,machine,ns_to_init,exits,exit_cycles,vm_lifetime_cycles" > "$boot_csv"
now_native() { tr -d '\r' < "$1" | awk '$1 == "NOW" {print $2; exit}'; }
inside=$(tr -d '\r' < "$out/linux-svm.log" | awk '$2 == "NOW" {print $3; exit}')
read -r life exits cycles < <(tr -d '\r' < "$out/linux-svm.log" | awk '
  /vm linux: lifetime / {life=$6; on=1; next}
  on && /^  exits: / {exits=$2; cycles=$4}
  on && /^summary/ {exit}
  END {printf "%d %d %d\n", life, exits, cycles}')
status=0
for row in "peregrine-svm,peregrine (microvm-like VM; AMD-V under QEMU -cpu EPYC),$inside,$exits,$cycles,$life" \
  "qemu-microvm,qemu -M microvm acpi=on rtc=off,$(now_native "$out/linux-microvm.log"),,," \
  "qemu-pc,qemu -M pc,$(now_native "$out/linux-pc.log"),,,"; do
  IFS=, read -r setup _ ns _ <<<"$row"
  if [ -z "$ns" ]; then echo "$setup: the boot did not reach /init (log: $out/linux-${setup#*-}.log)"; status=1; fi
  echo "$row" >> "$boot_csv"
done
awk -F, 'NR > 1 && $3 != "" { printf "%-14s %12.4e ns (emulated instructions) to /init\n", $1, $3 }' "$boot_csv"
awk -F, 'NR > 1 && $1 == "peregrine-svm" && $6 > 0 {
  printf "inside Peregrine: %d exits took %.3e of the VM'"'"'s %.3e cycles (%.2f%%)\n", $4, $5, $6, 100 * $5 / $6 }' "$boot_csv"
echo "exits per reason: $exits_csv"
exit $status
