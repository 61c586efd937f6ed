#!/usr/bin/env bash
# Native baseline for the Linux guest: boots the fixtures from scripts/fetch-linux-fixtures.sh
# straight under QEMU (no Peregrine), checks that /init reached userspace and powered the
# machine off, and reports how far into the emulated clock that happened.
#   scripts/linux-native-baseline.sh [OUTDIR]      (default build/linux; log in OUTDIR/native.log)
# Under `-icount shift=0` each emulated instruction advances the virtual clock by 2^0 = 1 ns,
# so /proc/uptime (seconds since the kernel's clock started) times 1e9 approximates the
# emulated instructions from the kernel's timekeeping start to /init. It is an upper bound:
# idle time (HLT) also advances the clock; the second line subtracts Linux's idle time.
set -uo pipefail
cd "$(dirname "$0")/.."
outdir=${1:-build/linux}
kernel=$outdir/vmlinuz
initrd=$outdir/initramfs.cpio.gz
log=$outdir/native.log
for f in "$kernel" "$initrd"; do
  if [ ! -s "$f" ]; then
    echo "linux-native-baseline: $f missing; run scripts/fetch-linux-fixtures.sh $outdir" >&2
    exit 1
  fi
done

start=$(date +%s.%N)
timeout 120 qemu-system-x86_64 -machine pc -cpu EPYC -icount shift=0 -m 256M -nographic \
  -no-reboot -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet" < /dev/null > "$log" 2>&1
status=$?
end=$(date +%s.%N)
wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')

field() { tr -d '\r' < "$log" | awk -v k="$1" '$1 == k {print $2; exit}'; }
fail() { echo "linux-native-baseline: FAIL: $1 (log: $log)" >&2; tail -n 20 "$log" >&2; exit 1; }

[ "$status" = 124 ] && fail "QEMU did not exit within 120 s"
grep -aq 'PEREGRINE-LINUX-USERSPACE-OK' "$log" || fail "marker PEREGRINE-LINUX-USERSPACE-OK not seen"
grep -aq 'Kernel panic' "$log" && fail "kernel panicked (init exited instead of powering off?)"
[ "$status" = 0 ] || fail "QEMU exited with status $status"
grep -aq 'reboot: Power down' "$log" || fail "no 'reboot: Power down' (guest did not power off)"

up=$(field UPTIME); idle=$(field IDLE); now=$(field NOW)
[ -n "$up" ] || fail "no UPTIME line"
echo "kernel $(field KERNEL), $(field CPUS) CPU(s); QEMU powered off by the guest; wall time ${wall} s"
# The instruction estimate uses NOW (ns since the kernel's clock started, from
# /proc/timer_list) when /init could read it, else UPTIME (10 ms resolution).
awk -v up="$up" -v idle="${idle:-0}" -v now="$now" 'BEGIN {
  ns = (now ~ /^[0-9]+$/) ? now : up * 1e9
  printf "native boot to userspace: %.2f s emulated (≈ %.0f emulated instructions at 1 ns each under -icount shift=0)\n", up, ns
  printf "  /proc/uptime %s s, idle %s s; CLOCK_MONOTONIC at /init %s ns\n", up, idle, now
}'
