#!/usr/bin/env python3
"""The guest network's measurements (docs/guest-io.md), written to build/bench/net.csv and
build/bench/network.csv:

- bridge: two nodes on one QEMU multicast data segment (each node's data NIC is its guest
  switch's uplink), one Debian VM on each. They ping each other (guests/linux/init: `ipaddr=
  ping= pings=`), then neta sends BYTES bytes to netb over TCP with busybox nc (`netbench=
  netrole= netpeer=`), and both idle until WINDOW guest seconds after the transfer began.
  Run twice: with the transfer and with `netbench=0` (the same pings, the same guest window,
  idle). Exits per packet = (the two VMs' exits in the transfer run - in the idle run) /
  (their transmitted frames in the transfer run - in the idle run): a clean difference that
  leaves out the boot, the pings and the idle timer ticks over the same guest time. Copies
  and bytes copied per packet come from the guest NICs' counters of the transfer run.
- native-pair: the same kernel and /init as two plain QEMU guests (no hypervisor), each its
  own QEMU, virtio-net on one multicast socket segment: the same pings and transfer. The
  bridge's ratios are against this pair (its own topology: two guests, both ends moved
  under the hypervisor); network.csv's `native` row is the passed-through device's native
  (scripts/bench-net-bypass.py), both 1.000 by definition.

All of it is repeated RUNS times (BENCH_NET_RUNS, default 3): net.csv and network.csv hold
the medians, net-bridge-runs.csv every run.

Every QEMU runs TCG with -icount shift=0: one emulated instruction per virtual ns.
network.csv's ratios are clock-independent (docs/passthrough.md, "Round-trip latency, the wire
left out"): rtt_ratio = the round trip without its wire, with interrupts (both guests first
make ROUND_TRIPS UDP round trips each way, init `netrtt=`, guests/linux/pingpong.c: each
round costed on the two CPUs that make it; scripts/bench/round_trip.py; every path and mode
in net-rtt.csv); throughput_ratio = what the sending end sustains when its CPU is the
bottleneck: the native pair's CPU time for the transfer over the bridge's (net_cost's cost).
net.csv keeps the guest-clock figures (ping's average, the receiver's guest time from the
first byte to EOF; clock_rtt_ratio and clock_throughput_ratio in net-bridge-runs.csv): they
involve two QEMU processes whose virtual clocks follow the host's while a guest idles
(icount sleep=on), so they are a comparison on one machine under its load, not figures.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "bench"))
import net_cost  # noqa: E402
import round_trip  # noqa: E402
OUT = os.path.join(ROOT, "build", "bench")
PINGS = 10
# UDP round trips each way before the transfer (init `netrtt=`, guests/linux/pingpong.c).
ROUND_TRIPS = 400
BYTES = int(os.environ.get("BENCH_NET_BYTES", str(2 << 20)))
WINDOW = int(os.environ.get("BENCH_NET_WINDOW", "20"))
RUNS = int(os.environ.get("BENCH_NET_RUNS", "3"))
KERNEL, INITRD = "build/linux/vmlinuz", "build/linux/initramfs.cpio.gz"
PING = re.compile(r"^(?:\[(\w+)\] )?PING peer=\S+ sent=(\d+) received=(\d+) rtt=([\d.]+)/([\d.]+)/([\d.]+)",
                  re.MULTILINE)
NETBENCH = re.compile(r"^(?:\[\w+\] )?NETBENCH role=(\w+) bytes=(\d+) ns=(\d+)", re.MULTILINE)
NIC = re.compile(r"^net: vm (\w+) nic0 \S+ tx (\d+) frames (\d+) bytes, rx (\d+) frames (\d+) bytes,"
                 r" copied (\d+) bytes in (\d+) copies, (\d+) doorbells, vm exits (\d+), dropped (\d+)",
                 re.MULTILINE)
# (name, node MAC, guest MAC, address, peer, role)
SIDES = (("neta", "52:54:00:51:00:11", "52:54:00:12:37:01", "10.0.8.1", "10.0.8.2", "send"),
         ("netb", "52:54:00:51:00:12", "52:54:00:12:37:02", "10.0.8.2", "10.0.8.1", "recv"))


def guest_words(address, peer, role, size):
    return ("console=ttyS0 quiet no_timer_check ipaddr=%s/24 ping=%s pings=%d linger=0"
            " netbench=%d netrole=%s netpeer=%s netwindow=%d netrtt=%d"
            % (address, peer, PINGS, size, role, peer, WINDOW, ROUND_TRIPS))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_all(procs, what):
    for proc in procs:
        proc.wait()
    for proc in procs:
        if proc.returncode not in (0, 1):
            print("bench-net: a %s QEMU ended with %d" % (what, proc.returncode))


def build_isos(size, tag):
    for name, node_mac, mac, address, peer, role in SIDES:
        modules = ["%s:vm name=%s kind=linux mem=192M nic=%s -- %s"
                   % (KERNEL, name, mac, guest_words(address, peer, role, size)),
                   "%s:initrd vm=%s" % (INITRD, name)]
        subprocess.run(["make", "--no-print-directory", "-s", "iso", "ISO=build/bench/net-%s-%s.iso" % (tag, name),
                        "CMDLINE=loglevel=info batch", "GUEST_MODULES=" + ";".join(modules)],
                       cwd=ROOT, check=True)


def bridge(tag, port, results):
    """Two nodes, one VM each, from build_isos' ISOs; puts the parsed logs of both in results[tag]."""
    procs, paths = [], []
    for name, node_mac, mac, address, peer, role in SIDES:
        iso = "build/bench/net-%s-%s.iso" % (tag, name)
        env = dict(os.environ, PEREGRINE_ICOUNT="1", PEREGRINE_MEMORY="512M",
                   PEREGRINE_DATA_NET=str(port), PEREGRINE_DATA_MAC=node_mac)
        path = os.path.join(OUT, "net-%s-%s.log" % (tag, name))
        paths.append(path)
        with open(path, "w") as log:
            procs.append(subprocess.Popen(["timeout", "1500", os.path.join(ROOT, "scripts", "run-qemu.sh"),
                                           os.path.join(ROOT, iso)], cwd=ROOT, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    wait_all(procs, "Peregrine node")
    results[tag] = [open(path, encoding="utf-8", errors="replace").read() for path in paths]
    results[tag + "-paths"] = paths


def native(size):
    """The same two guests under plain QEMU."""
    port = free_port()
    procs, paths = [], []
    for name, _, mac, address, peer, role in SIDES:
        path = os.path.join(OUT, "net-native-%s.log" % name)
        paths.append(path)
        with open(path, "w") as log:
            procs.append(subprocess.Popen(
                ["timeout", "1200", "qemu-system-x86_64", "-machine", "pc", "-cpu", "EPYC", "-m", "256M",
                 "-icount", "shift=0", "-display", "none", "-monitor", "none", "-serial", "stdio",
                 "-no-reboot", "-kernel", os.path.join(ROOT, KERNEL), "-initrd", os.path.join(ROOT, INITRD),
                 "-append", guest_words(address, peer, role, size) + " panic=-1",
                 "-netdev", "socket,id=n0,mcast=230.0.0.1:%d,localaddr=127.0.0.1" % port,
                 "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s" % mac],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    wait_all(procs, "plain")
    texts = [open(path, encoding="utf-8", errors="replace").read() for path in paths]
    return [parse(text, path) for text, path in zip(texts, paths)], texts


def parse(text, path):
    """{'rtt': avg ms, 'received': echoes, 'bench': {role: (bytes, ns)}, 'nic': [..] or None}"""
    ping = PING.search(text)
    nic = NIC.search(text)
    if not ping:
        sys.exit("bench-net: no PING line in %s" % path)
    if "NETBENCH-WINDOW-OVERRUN" in text:
        sys.exit("bench-net: the transfer outlasted the %d s window (%s); raise BENCH_NET_WINDOW"
                 % (WINDOW, path))
    return {"rtt": float(ping.group(5)), "rtt_min": float(ping.group(4)), "received": int(ping.group(3)),
            "bench": {m.group(1): (int(m.group(2)), int(m.group(3))) for m in NETBENCH.finditer(text)},
            # {role: init's NETBENCH-COST fields}: the transfer's CPU cost (net_cost.py)
            "cost": net_cost.parse_lines(text, "NETBENCH-COST"),
            # [tx frames, tx bytes, rx frames, rx bytes, copied, copies, doorbells, exits, dropped]
            "nic": [int(x) for x in nic.groups()[1:]] if nic else None}


def transfer(sides, path_name):
    """(the receiver's guest ns from the first byte to EOF, the sender's from connect to close)"""
    received = [s["bench"]["recv"] for s in sides if "recv" in s["bench"]]
    sent = [s["bench"]["send"] for s in sides if "send" in s["bench"]]
    if not received or received[0][0] != BYTES or not sent:
        sys.exit("bench-net: the %s receiver did not count %d bytes: %r" % (path_name, BYTES, received))
    return received[0][1], sent[0][1]


def measure_once(index):
    """One bridge run (transfer and idle side by side) and one native pair: the figures."""
    # The two runs side by side (each of its own data segment): counts and guest-clock
    # figures do not depend on the host's speed, only the wall time does.
    results = {}
    ports = [free_port()]
    while len(ports) < 2:
        port = free_port()
        if port not in ports:
            ports.append(port)
    runs = [threading.Thread(target=bridge, args=(tag, port, results))
            for tag, port in zip(("transfer", "idle"), ports)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    moving, idle = ([parse(text, path) for text, path in zip(results[tag], results[tag + "-paths"])]
                    for tag in ("transfer", "idle"))
    for sides, tag in ((moving, "transfer"), (idle, "idle")):
        if any(s["nic"] is None for s in sides):
            sys.exit("bench-net: a VM of the %s run did not end (see build/bench/net-%s-*.log)" % (tag, tag))
    plain, plain_texts = native(BYTES)
    # The round trips without their wire (scripts/bench/round_trip.py): neta asks, netb
    # serves, both ends VMs on the bridge, both plain guests natively.
    trips = {"bridge": round_trip.figures(*results["transfer"]),
             "native-pair": round_trip.figures(*plain_texts)}
    problems = []
    for name, found in trips.items():
        problems += round_trip.check(found, ROUND_TRIPS, "%s run %d" % (name, index))
    if problems:
        sys.exit("bench-net: " + "; ".join(problems))

    # Each packet once: the frames the two VMs transmitted.
    packets = sum(s["nic"][0] for s in moving) - sum(s["nic"][0] for s in idle)
    exits = sum(s["nic"][7] for s in moving) - sum(s["nic"][7] for s in idle)
    doorbells = sum(s["nic"][6] for s in moving) - sum(s["nic"][6] for s in idle)
    sent = sum(s["nic"][0] for s in moving)
    bridge_ns, bridge_sender_ns = transfer(moving, "bridge")
    native_ns, native_sender_ns = transfer(plain, "native")
    figures = {
        "packets": packets, "exits": exits, "exits_per_packet": exits / packets,
        "doorbells_per_packet": doorbells / packets,
        # Copies and bytes copied by both VMs' NICs (a packet is copied out of the sender and
        # into the receiver), per packet sent.
        "copies_per_packet": sum(s["nic"][5] for s in moving) / sent,
        "bytes_copied_per_packet": sum(s["nic"][4] for s in moving) / sent,
        "bridge_ns": bridge_ns, "bridge_sender_ns": bridge_sender_ns,
        "native_ns": native_ns, "native_sender_ns": native_sender_ns,
        "bridge_rtt": sum(s["rtt"] for s in moving) / 2, "native_rtt": sum(s["rtt"] for s in plain) / 2,
        "bridge_rtt_min": min(s["rtt_min"] for s in moving),
        "native_rtt_min": min(s["rtt_min"] for s in plain),
        "bridge_echoes": sum(s["received"] for s in moving),
        "native_echoes": sum(s["received"] for s in plain)}
    # The CPU cost per direction (scripts/bench/net_cost.py): neta's (sending) and netb's
    # (receiving) against the same guest of the native pair; a VM's exits per packet = its
    # exits (transfer run - idle run) / its NIC's frames both ways (the same difference).
    records = []
    for i, (name, role) in enumerate((("neta", "send"), ("netb", "recv"))):
        frames = (moving[i]["nic"][0] + moving[i]["nic"][2]) - (idle[i]["nic"][0] + idle[i]["nic"][2])
        vm_exits = moving[i]["nic"][7] - idle[i]["nic"][7]
        records.append(net_cost.record("bridge", role, index, moving[i]["cost"].get(role),
                                       "native-pair", vm_exits / max(frames, 1)))
        records.append(net_cost.record("native-pair", role, index, plain[i]["cost"].get(role),
                                       "native-pair", 0))
    figures["cost_records"] = records
    figures["round_trips"] = trips
    for name in trips:
        for mode in round_trip.MODES:
            figures["%s_round_trip_%s_ns" % (name.replace("-", "_"), mode)] = \
                trips[name][mode]["round_trip_ns"]
    # The RTT ratio: the round trip without its wire with interrupts (busybox nc's mode);
    # the throughput ratio: what the sending end sustains when its CPU is the bottleneck,
    # the native pair's CPU time for the transfer over the bridge's (net_cost's cost_ns).
    figures["rtt_ratio"] = round_trip.ratio(trips["bridge"], trips["native-pair"], "i",
                                            same_server=False)
    sending = {r["path"]: r["cost"]["cost_ns"] for r in records if r["direction"] == "send"}
    figures["bridge_send_cost_ns"] = sending["bridge"]
    figures["native_send_cost_ns"] = sending["native-pair"]
    figures["throughput_ratio"] = (figures["native_send_cost_ns"]
                                   / figures["bridge_send_cost_ns"])
    figures["clock_rtt_ratio"] = figures["bridge_rtt"] / figures["native_rtt"]
    figures["clock_throughput_ratio"] = native_ns / bridge_ns
    print("bench-net: run %d: %s" % (index, ", ".join("%s %s" % kv for kv in sorted(figures.items())
                                                     if kv[0] not in ("cost_records", "round_trips"))))
    return figures


def main():
    os.makedirs(OUT, exist_ok=True)
    build_isos(BYTES, "transfer")
    build_isos(0, "idle")
    measured, records, trips = [], [], []
    for index in range(1, RUNS + 1):
        measured.append(measure_once(index))
        records += measured[-1].pop("cost_records")
        trips.append(measured[-1].pop("round_trips"))
        net_cost.save("net-cost-bridge.json", index, records)
    with open(os.path.join(OUT, "net-bridge-runs.csv"), "w") as f:
        keys = sorted(measured[0])
        f.write("run," + ",".join(keys) + "\n")
        for index, figures in enumerate(measured, 1):
            f.write("%d,%s\n" % (index, ",".join("%.10g" % figures[k] for k in keys)))

    def median(key):
        return statistics.median(m[key] for m in measured)

    exits_per_packet, copies_per_packet = median("exits_per_packet"), median("copies_per_packet")
    rtt_ratio, throughput_ratio = median("rtt_ratio"), median("throughput_ratio")
    with open(os.path.join(OUT, "net.csv"), "w") as f:
        f.write("path,bytes,transfer_guest_ns,sender_guest_ns,throughput_bytes_per_guest_s,rtt_avg_ms,"
                "rtt_min_ms,echoes_received,"
                "packets,exits,exits_per_packet,doorbells_per_packet,copies_per_packet,"
                "bytes_copied_per_packet\n")
        # native-pair: the bridge's own native (two plain guests); scripts/bench-net-bypass.py
        # appends the native of the passed-through device, network.csv's native row.
        f.write("native-pair,%d,%d,%d,%.0f,%.3f,%.3f,%d,,,0,0,0,0\n"
                % (BYTES, median("native_ns"), median("native_sender_ns"),
                   BYTES * 1e9 / median("native_ns"), median("native_rtt"), median("native_rtt_min"),
                   median("native_echoes")))
        f.write("bridge,%d,%d,%d,%.0f,%.3f,%.3f,%d,%d,%d,%.2f,%.2f,%.3f,%.1f\n"
                % (BYTES, median("bridge_ns"), median("bridge_sender_ns"),
                   BYTES * 1e9 / median("bridge_ns"),
                   median("bridge_rtt"), median("bridge_rtt_min"), median("bridge_echoes"),
                   median("packets"), median("exits"), exits_per_packet,
                   median("doorbells_per_packet"), copies_per_packet, median("bytes_copied_per_packet")))
    with open(os.path.join(OUT, "network.csv"), "w") as f:
        f.write("path,exits_per_packet,copies_per_packet,rtt_ratio,throughput_ratio\n")
        f.write("native,0,0,1.000,1.000\n")
        f.write("bridge,%.2f,%.3f,%.3f,%.3f\n" % (exits_per_packet, copies_per_packet, rtt_ratio,
                                                  throughput_ratio))
    natives = [t["native-pair"] for t in trips]
    round_trip.save(OUT, [round_trip.row(name, mode, [t[name] for t in trips], "native-pair",
                                         natives, same_server=False)
                          for name in ("native-pair", "bridge") for mode in round_trip.MODES])
    for name in ("net.csv", "network.csv", round_trip.FILE, "net-bridge-runs.csv"):
        with open(os.path.join(OUT, name)) as f:
            sys.stdout.write(f.read())
    for key in ("rtt_ratio", "throughput_ratio", "clock_rtt_ratio", "clock_throughput_ratio",
                "exits_per_packet"):
        values = [m[key] for m in measured]
        print("bench-net: bridge %s over %d runs: median %.3f [%.3f-%.3f]"
              % (key, len(values), statistics.median(values), min(values), max(values)))
    # Bounds: a packet costs some exits but not thousands; between two guests each packet is
    # copied twice (out of the sender, into the receiver); both ratios are positive.
    problems = []
    for index, m in enumerate(measured, 1):
        if not 0 < m["exits_per_packet"] < 1000:
            problems.append("run %d: exits per packet %.2f outside (0, 1000)"
                            % (index, m["exits_per_packet"]))
        if not 1.9 <= m["copies_per_packet"] <= 2.1:
            problems.append("run %d: copies per packet %.3f outside [1.9, 2.1]"
                            % (index, m["copies_per_packet"]))
        if not (0 < m["rtt_ratio"] < 100 and 0 < m["throughput_ratio"] < 100):
            problems.append("run %d: a ratio to native outside (0, 100)" % index)
    if problems:
        sys.exit("bench-net: " + "; ".join(problems))


if __name__ == "__main__":
    main()
