#!/usr/bin/env bash
# Boots a Peregrine ISO under Bochs 2.7 with an Intel Skylake-X CPU (VMX with EPT, VPID and
# unrestricted guest). COM1 goes to a file, copied to standard output as it grows.
# `clock: sync=none` makes RDTSC follow the emulated instruction count.
# The BIOS's `fastboot` skips its boot-menu wait (306M emulated ticks between the BIOS's
# "IDE time out" and "Booting from" in Bochs's log): with two CPUs or more that wait cost
# 5-6 s of real time per boot (the boot test: 2 CPUs 10.1 -> 5.0 s, 4 CPUs 12.8 -> 6.3 s).
# PEREGRINE_BOCHS_CPUS sets the processor count (`cpu: count=`, default 1).
# PEREGRINE_BOCHS_NET="hostfwd = udp:127.0.0.1:HOSTPORT-:PORT" (lines of a Bochs slirp
# configuration) adds an Intel e1000 NIC (PCI slot 1, MAC 52:54:00:12:34:56) on Bochs's
# slirp network with those forwards (docs/management-network.md). Unset: no NIC.
#   run-bochs.sh ISO [TIMEOUT_SECONDS] [SERIAL_LOG]
set -uo pipefail
iso=$(readlink -f "$1"); limit=${2:-120}; serial=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -n "$serial" ] || serial=$work/serial.log
: > "$serial"
memory=${PEREGRINE_BOCHS_MEMORY:-512}
cpus=${PEREGRINE_BOCHS_CPUS:-1}
cat > "$work/bochsrc" <<RC
megs: $memory
cpu: model=corei7_skylake_x, count=$cpus, ips=100000000, reset_on_triple_fault=0
clock: sync=none, time0=local
romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$serial
display_library: term
sound: driver=dummy
speaker: enabled=0
port_e9_hack: enabled=1
log: $work/bochs.log
$(if [ -n "${PEREGRINE_BOCHS_NET:-}" ]; then
  printf '# slirp config\n%s\n' "$PEREGRINE_BOCHS_NET" > "$work/slirp.conf"
  echo "pci: enabled=1, chipset=i440fx, slot1=e1000"
  echo "e1000: enabled=1, mac=52:54:00:12:34:56, ethmod=slirp, script=$work/slirp.conf"
fi)
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
RC
echo c > "$work/cont"
tail -F "$serial" 2>/dev/null &
tailer=$!
timeout -k 5 "$limit" bochs -f "$work/bochsrc" -q -rc "$work/cont" < /dev/null > "$work/term.out" 2>&1 &
bochs_pid=$!
# With standard input not a terminal, the term display opens a pseudo-terminal of its own
# ("Bochs connected to screen /dev/pts/N") and draws the VGA text there. Nothing reads it,
# so once its buffer fills Bochs blocks in a write and the whole emulator stops (seen for
# minutes, and for an hour in a long kvm-unit-tests run): read and discard it.
drainer=
while kill -0 $bochs_pid 2>/dev/null; do
  screen=$(sed -n 's/^Bochs connected to screen "\(\/dev\/pts\/[0-9]*\)".*/\1/p' "$work/term.out" 2>/dev/null | head -1)
  if [ -n "$screen" ]; then
    python3 -c '
import os, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
attrs = termios.tcgetattr(fd)
attrs[3] &= ~(termios.ECHO | termios.ICANON)
termios.tcsetattr(fd, termios.TCSANOW, attrs)
while True:
    try:
        if not os.read(fd, 65536):
            break
    except OSError:
        break
' "$screen" 2>/dev/null &
    drainer=$!
    break
  fi
  sleep 0.1
done
wait $bochs_pid
status=$?
sleep 0.3
kill $tailer 2>/dev/null
[ -z "$drainer" ] || kill $drainer 2>/dev/null
if [ -n "${PEREGRINE_BOCHS_LOG:-}" ]; then cp "$work/bochs.log" "$PEREGRINE_BOCHS_LOG"; fi
exit $status
