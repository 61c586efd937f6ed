#!/usr/bin/env python3
"""The guest network's measurements (docs/guest-io.md), written to build/bench/net.csv:

- peregrine-local: two Debian VMs on one node ping each other through the node's switch
  (guests/linux/init: ipaddr= ping= pings=). Run twice, with FEW and MANY pings; the
  differences between the runs give exits per packet and per round trip without the boot's
  exits. Bytes copied per packet from the NICs' counters.
- qemu-plain: the same two guests under plain QEMU, each its own QEMU, virtio-net on one
  multicast socket segment (QEMU's own device model; its exits are not countable here).

Every run is under QEMU TCG with -icount shift=0 (one emulated instruction per virtual ns),
so a round-trip time the guest's ping reports in ms is about 10^6 emulated instructions per
ms. It includes the other side's time: for the plain pair two QEMU processes whose virtual
clocks advance independently when idle (icount sleep=on), so that figure is a guide only.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "build", "bench")
FEW, MANY = 5, 25
# BENCH_NET_ICOUNT=0: no -icount (multi-threaded TCG, several times faster): exits, frames
# and bytes are the same, but the round trip is then not in emulated instructions.
ICOUNT = os.environ.get("BENCH_NET_ICOUNT", "1") == "1"
KERNEL, INITRD = "build/linux/vmlinuz", "build/linux/initramfs.cpio.gz"
PING = re.compile(r"^(?:\[(\w+)\] )?PING peer=\S+ sent=(\d+) received=(\d+) rtt=([\d.]+)/([\d.]+)/([\d.]+)",
                  re.MULTILINE)
NIC = re.compile(r"^net: vm (\w+) nic0 \S+ tx (\d+) frames (\d+) bytes, rx (\d+) frames (\d+) bytes,"
                 r" copied (\d+) bytes, vm exits (\d+), dropped (\d+)", re.MULTILINE)


def guest_words(address, peer, pings):
    return ("console=ttyS0 quiet no_timer_check ipaddr=%s/24 ping=%s pings=%d linger=%d"
            % (address, peer, pings, 20))


def peregrine_local(pings):
    iso = "build/bench/net-%d.iso" % pings
    modules = []
    for name, mac, address, peer in (("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2"),
                                      ("netb", "52:54:00:12:34:02", "10.0.5.2", "10.0.5.1")):
        modules += ["%s:vm name=%s kind=linux mem=192M nic=%s -- %s"
                    % (KERNEL, name, mac, guest_words(address, peer, pings)),
                    "%s:initrd vm=%s" % (INITRD, name)]
    subprocess.run(["make", "--no-print-directory", "-s", "iso", "ISO=" + iso, "CMDLINE=loglevel=info batch",
                    "GUEST_MODULES=" + ";".join(modules)], cwd=ROOT, check=True)
    env = dict(os.environ, PEREGRINE_ICOUNT="1" if ICOUNT else "0", PEREGRINE_MEMORY="1G")
    run = subprocess.run(["timeout", "900", os.path.join(ROOT, "scripts", "run-qemu.sh"),
                          os.path.join(ROOT, iso)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    text = run.stdout.decode("utf-8", "replace")
    with open(os.path.join(OUT, "net-%d.log" % pings), "w") as f:
        f.write(text)
    nics = {m.group(1): [int(x) for x in m.groups()[1:]] for m in NIC.finditer(text)}
    rtts = {m.group(1): (int(m.group(2)), int(m.group(3)), float(m.group(5)))
            for m in PING.finditer(text)}
    if len(nics) != 2 or len(rtts) != 2:
        sys.exit("bench-net: the run with %d pings did not finish (see build/bench/net-%d.log)"
                 % (pings, pings))
    return nics, rtts


def qemu_plain(pings):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    logs = []
    for index, (mac, address, peer) in enumerate((("52:54:00:12:36:01", "10.0.7.1", "10.0.7.2"),
                                                  ("52:54:00:12:36:02", "10.0.7.2", "10.0.7.1"))):
        log = tempfile.TemporaryFile()
        logs.append(log)
        procs.append(subprocess.Popen(
            ["timeout", "600", "qemu-system-x86_64", "-machine", "pc", "-cpu", "EPYC", "-m", "256M",
             *(["-icount", "shift=0"] if ICOUNT else []), "-display", "none", "-monitor", "none", "-serial", "stdio",
             "-no-reboot", "-kernel", os.path.join(ROOT, KERNEL), "-initrd", os.path.join(ROOT, INITRD),
             "-append", guest_words(address, peer, pings) + " panic=-1",
             "-netdev", "socket,id=n0,mcast=230.0.0.1:%d,localaddr=127.0.0.1" % port,
             "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s" % mac],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    for proc in procs:
        proc.wait()
    result = {}
    for index, log in enumerate(logs):
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
        with open(os.path.join(OUT, "net-plain-%d.log" % index), "w") as f:
            f.write(text)
        for m in PING.finditer(text):
            result[index] = (int(m.group(2)), int(m.group(3)), float(m.group(5)))
    return result


def main():
    os.makedirs(OUT, exist_ok=True)
    few_nics, few_rtts = peregrine_local(FEW)
    many_nics, many_rtts = peregrine_local(MANY)
    rows = []
    # Per VM: [tx frames, tx bytes, rx frames, rx bytes, copied, exits, dropped]
    frames = {vm: (many_nics[vm][0] + many_nics[vm][2]) - (few_nics[vm][0] + few_nics[vm][2])
              for vm in many_nics}
    exits = {vm: many_nics[vm][5] - few_nics[vm][5] for vm in many_nics}
    round_trips = 2 * (MANY - FEW)  # each VM pings the other
    copied = sum(n[4] for n in many_nics.values())
    all_frames = sum(n[0] + n[2] for n in many_nics.values())
    rtt = sum(r[2] for r in many_rtts.values()) / len(many_rtts)
    received = sum(r[1] for r in many_rtts.values())
    rows.append(("peregrine-local-2vms", MANY, received, "%.3f" % rtt, int(rtt * 1e6) if ICOUNT else "",
                 "%.1f" % (sum(exits.values()) / sum(frames.values())),
                 "%.1f" % (sum(exits.values()) / round_trips),
                 "%.1f" % (copied / all_frames)))
    plain = qemu_plain(MANY)
    if plain:
        rtt = sum(r[2] for r in plain.values()) / len(plain)
        rows.append(("qemu-plain-2guests", MANY, sum(r[1] for r in plain.values()), "%.3f" % rtt,
                     int(rtt * 1e6) if ICOUNT else "", "", "", ""))
    with open(os.path.join(OUT, "net.csv"), "w") as f:
        f.write("setup,pings_per_vm,echoes_received,rtt_avg_ms,rtt_emulated_instructions,"
                "exits_per_packet,exits_per_round_trip,bytes_copied_per_packet\n")
        for row in rows:
            f.write(",".join(str(x) for x in row) + "\n")
    with open(os.path.join(OUT, "net.csv")) as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
