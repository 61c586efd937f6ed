#!/usr/bin/env python3
"""The VMM-bypass rows of build/bench/network.csv (docs/passthrough.md, issue 14): a Linux VM
driving a passed-through virtio-net against the same guest directly under QEMU.

- bypass: the integration case qemu-svm-passthrough-linux-net (Tests/Integration/
  cases_passthrough_net.py) with PEREGRINE_BENCH_BYPASS_JSON set: a node (q35, VT-d with
  interrupt remapping, 1 CPU) gives its spare `virtio-net-pci,disable-legacy=on,
  iommu_platform=on` at 00:11.0 (a multicast segment of its own) to a 160 MiB Debian VM; the
  peer is the same kernel and /init under a plain QEMU on that segment. The VM pings the peer
  10 times and sends it 4 MiB of random data, twice: with interrupts (busybox nc), then
  busy-polled (the initramfs's /bin/pollnet spinning on a non-blocking socket with
  SO_PREFER_BUSY_POLL, eth0's interrupt held masked by napi_defer_hard_irqs=1 and a 20 ms
  gro_flush_timeout; PEREGRINE_NET_SPIN=0: nc with net.core.busy_read = busy_poll = 50 us,
  as the figures before it), each time in that setting; then the peer sends the data back,
  twice (the VM receiving with interrupts, then busy-polling). The VM's
  virtio_net loads with napi_tx=0 (init `netnapitx=0`: no TX completion interrupts;
  docs/passthrough.md, "Interrupt deferral and TX NAPI"), the native guest's too (the same
  words); PEREGRINE_NET_NAPITX=1 measures Linux's default, as the figures before it did.
- native: the same VM's kernel, initramfs and /init words (the case's `vm_words`) directly
  under QEMU with the same device: q35, `intel-iommu,intremap=on`, the same virtio-net-pci
  with iommu_platform=on at 00:11.0 and the same MAC, 160 MiB, against the same peer command,
  plus `iommu.passthrough=1`: Linux puts the device in an identity domain, so its driver
  hands the device guest-physical addresses, as the VM's does (the VM sees no IOMMU: the
  hypervisor's VT-d tables translate under it, set once). network.csv's native row.
- native-translated: the same without `iommu.passthrough=1`: Debian's default, the DMA API
  maps and unmaps every buffer through the guest's own VT-d (queued invalidation, lazy), work
  the VM's driver does not do. Measured as well (net.csv, net-bypass-runs.csv), not the row.

Every QEMU (node, native guest, peer) runs TCG with -icount shift=0. network.csv's ratios
are clock-independent. rtt_ratio: before the transfers the VM makes case.BENCH_ROUND_TRIPS
UDP round trips to the peer with interrupts, then as many busy-polled (init `bulkrtt=`,
guests/linux/pingpong.c), each costed on the two CPUs that make it, the wire left out
(scripts/bench/round_trip.py; docs/passthrough.md, "Round-trip latency, the wire left out");
the ratio compares the median round trip with native's in the same repetition and mode
(interrupts with interrupts, polled with polled). throughput_ratio: what the VM's end
sustains when its CPU is the bottleneck, native's CPU time for the same transfer over the
VM's (net_cost's cost below). Each is repeated RUNS times (BENCH_NET_RUNS, default 3), one
emulator set at a time; the table holds the medians, build/bench/net-bypass-runs.csv every
run, net-rtt.csv every path's round trips (with the VM's exits per round trip, net of its
idle rate). The guest-clock figures (the VM's ping average, 4 MiB over the receiver's guest
time from the first byte to EOF) stay in net.csv and net-bypass-runs.csv: guest clocks of
separate QEMU processes whose virtual clocks follow the host's while their guests idle
(icount sleep=on), a comparison on one machine under its load, not figures.

The clock-independent figure: every guest also prints its transfers' CPU cost (init's
BULK-COST: busy guest ns = instructions under -icount, minus an empty window as long), the
VM's and the peer's in every run, with the VM's packets and interrupts (exits per packet for
the runs it receives too); scripts/bench/net_cost.py turns them into network-cost.csv
(bypass and native-translated against native, per setting and direction; the peer's, a plain
QEMU in every run, as a control), with bench-net.py's bridge records if there are.
BENCH_NET_BYPASS_ONLY=1: no bridge row needed in network.csv.

Writes build/bench/network.csv (native, bypass-polled, bypass-interrupts, bridge: the bridge
row from scripts/bench-net.py's file, whose ratios are against its own native pair) and
appends each path's medians to net.csv (native-, native-translated- and bypass- with
interrupts, polled, recv-interrupts, recv-polled: the VM receiving, the peer sending the data
back, read on the VM's clock).
"""

import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "build", "bench")
sys.path.insert(0, os.path.join(ROOT, "Tests", "Integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts", "bench"))
import cases_passthrough_net as case  # noqa: E402
import net_cost  # noqa: E402
import round_trip  # noqa: E402
from cases_net import free_udp_port  # noqa: E402

RUNS = int(os.environ.get("BENCH_NET_RUNS", "3"))
# The case's runs: the VM sends (1, 2), then receives (3, 4), first with interrupts, then
# busy-polling. network.csv's rows are the sending ones (as the bridge row's: a VM sends).
SETTINGS = {"1": "interrupts", "2": "polled", "3": "recv-interrupts", "4": "recv-polled"}


def native_command(port, variant):
    """The VM's guest directly under QEMU with the device the VM is given."""
    words = case.vm_words(True) + (" iommu.passthrough=1" if variant == "native" else "")
    return ["timeout", "1500", "qemu-system-x86_64", "-machine", "q35,kernel-irqchip=split",
            "-cpu", "EPYC", "-m", "160M", "-icount", "shift=0", "-display", "none", "-monitor",
            "none", "-serial", "stdio", "-no-reboot", "-device", "intel-iommu,intremap=on",
            "-kernel", case.KERNEL, "-initrd", case.INITRD,
            "-append", "console=ttyS0 no_timer_check quiet panic=-1 " + words,
            "-netdev", "socket,id=pt0,mcast=230.0.0.1:%d,localaddr=127.0.0.1" % port,
            "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=pt0,addr=0x11,"
            "mac=%s" % case.VM_MAC]


def native(index, variant):
    """One native run: the guest and the peer side by side; their figures."""
    port = free_udp_port()
    procs, paths = [], []
    for name, command in (("guest", native_command(port, variant)),
                          ("peer", case.peer_command(port, True))):
        path = os.path.join(OUT, "net-bypass-%s-%d-%s.log" % (variant, index, name))
        paths.append(path)
        with open(path, "w") as log:
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=ROOT))
    for proc in procs:
        proc.wait()
    texts = [open(p, encoding="utf-8", errors="replace").read().replace("\r", "") for p in paths]
    return case.bench_figures(*texts), paths[0]


def bypass(index):
    """One run of the integration case in bench mode; its figures."""
    path = os.path.join(OUT, "net-bypass-%d.json" % index)
    if os.path.exists(path):
        os.remove(path)
    env = dict(os.environ, PEREGRINE_BENCH_BYPASS_JSON=path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "Tests", "Integration", "run.py"),
                             "passthrough-linux-net"], cwd=ROOT, env=env)
    if result.returncode != 0 or not os.path.exists(path):
        sys.exit("bench-net-bypass: the passthrough case failed in run %d (build/test-logs/)"
                 % index)
    with open(path) as f:
        return json.load(f), path


def sending(setting):
    return not setting.startswith("recv-")


def check(figures, where):
    """Every run of `figures` complete: all pings answered (the VM pings in the runs it
    sends), the whole transfer received by the right side, busy-polling where it should."""
    for run, setting in SETTINGS.items():
        got = figures["runs"].get(run, {})
        wanted = ("recv_ns", "send_ns", "busypoll", "receiver") + (
            ("rtt",) if sending(setting) else ())
        missing = [k for k in wanted if k not in got]
        if missing:
            sys.exit("bench-net-bypass: %s run %s lacks %s" % (where, run, ", ".join(missing)))
        if sending(setting) and got["pings"][1] != got["pings"][0]:
            sys.exit("bench-net-bypass: %s run %s: pings %r" % (where, run, got["pings"]))
        if got["recv_bytes"] != case.BULK or got["recv_sha"] != got["sha"] \
                or got["receiver"] != ("peer" if sending(setting) else "vm"):
            sys.exit("bench-net-bypass: %s run %s: %d bytes received by the %s"
                     % (where, run, got["recv_bytes"], got["receiver"]))
        if (got["busypoll"] != 0) != setting.endswith("polled"):
            sys.exit("bench-net-bypass: %s run %s busy-polls %d" % (where, run, got["busypoll"]))
        for side in ("cost", "peer_cost"):
            if side not in got:
                sys.exit("bench-net-bypass: %s run %s lacks the %s line (init's BULK-COST)"
                         % (where, run, "VM's" if side == "cost" else "peer's"))
    problems = round_trip.check(figures["round_trips"], case.BENCH_ROUND_TRIPS,
                                "%s's round trips" % where)
    if problems:
        sys.exit("bench-net-bypass: " + "; ".join(problems))


def cost_records(index, measured, natives):
    """The CPU-cost records of one repetition (scripts/bench/net_cost.py): the VM's transfer
    on each path (bypass and native-translated against native, in the same setting and
    direction) and the peer's (the same plain QEMU in every run: a control)."""
    records = []
    for run, setting in SETTINGS.items():
        direction = "send" if sending(setting) else "recv"
        mode = setting.replace("recv-", "")
        sides = [("bypass", measured)] + [(v, natives[v]) for v in NATIVES]
        for side, figures in sides:
            got = figures["runs"][run]
            records.append(net_cost.record(
                "%s-%s" % (side, mode), direction, index, got["cost"], "native-%s" % mode,
                got.get("exits_per_packet", 0 if side != "bypass" else None)))
            records.append(net_cost.record(
                "peer-%s-%s" % (side, mode), direction, index, got["peer_cost"],
                "peer-native-%s" % mode, None))
    return records


def spread(values):
    return "%.3f [%.3f-%.3f]" % (statistics.median(values), min(values), max(values))


NATIVES = ("native", "native-translated")


def main():
    os.makedirs(OUT, exist_ok=True)
    # rows: {"run", "setting", "bypass": figures, "native": .., "native-translated": ..}
    rows = []
    costs = []
    round_trips = []  # (repetition, the bypass run's figures, {variant: native figures})
    for index in range(1, RUNS + 1):
        measured, where = bypass(index)
        check(measured, where)
        natives = {}
        for variant in NATIVES:
            natives[variant], plain_where = native(index, variant)
            check(natives[variant], plain_where)
        costs += cost_records(index, measured, natives)
        net_cost.save("net-cost-bypass.json", index, costs)
        for run, setting in SETTINGS.items():
            row = {"run": index, "setting": setting, "bypass": measured["runs"][run]}
            for variant in NATIVES:
                row[variant] = natives[variant]["runs"][run]
            # RTT ratio: the round trip without its wire (scripts/bench/round_trip.py), the
            # VM's mode against the same mode natively; the VM receiving has none. Throughput
            # ratio: what the VM's end sustains when its CPU is the bottleneck, native's CPU
            # time for the transfer over the VM's (net_cost's cost_ns: the same bytes).
            mode = "p" if setting.endswith("polled") else "i"
            row["round_trip_ns"] = {side: figures["round_trips"][mode]["round_trip_ns"]
                                    for side, figures in [("bypass", measured)]
                                    + list(natives.items())}
            for variant in NATIVES:
                row["rtt_ratio", variant] = (round_trip.ratio(
                    measured["round_trips"], natives[variant]["round_trips"], mode,
                    same_server=True) if sending(setting) else None)
                row["throughput_ratio", variant] = (row[variant]["cost"]["cost_ns"]
                                                    / row["bypass"]["cost"]["cost_ns"])
            rows.append(row)
        round_trips.append((index, measured, natives))

    with open(os.path.join(OUT, "net-bypass-runs.csv"), "w") as f:
        f.write("run,setting,bypass_rtt_ms,native_rtt_ms,native_translated_rtt_ms,bypass_recv_ns,"
                "native_recv_ns,native_translated_recv_ns,bypass_send_ns,native_send_ns,"
                "native_translated_send_ns,bypass_round_trip_ns,native_round_trip_ns,"
                "native_translated_round_trip_ns,bypass_cost_ns,native_cost_ns,"
                "native_translated_cost_ns,rtt_ratio,throughput_ratio,rtt_ratio_translated,"
                "throughput_ratio_translated,exits_per_packet,packets,interrupts\n")
        def cell(value, form):
            return "" if value is None else form % value

        for r in rows:
            sides = (r["bypass"], r["native"], r["native-translated"])
            f.write("%d,%s,%s,%s,%s,%s,%s,%s,%.3f,%s,%.3f,%s,%s,%s\n" % (
                r["run"], r["setting"], ",".join(cell(x.get("rtt"), "%.3f") for x in sides),
                ",".join("%d" % x["recv_ns"] for x in sides),
                ",".join("%d" % x["send_ns"] for x in sides),
                ",".join("%.0f" % r["round_trip_ns"][k] for k in ("bypass",) + NATIVES),
                ",".join("%d" % x["cost"]["cost_ns"] for x in sides),
                cell(r["rtt_ratio", "native"], "%.3f"), r["throughput_ratio", "native"],
                cell(r["rtt_ratio", "native-translated"], "%.3f"),
                r["throughput_ratio", "native-translated"],
                cell(r["bypass"].get("exits_per_packet"), "%.3f"),
                cell(r["bypass"].get("packets"), "%d"), cell(r["bypass"].get("interrupts"), "%d")))

    def median(setting, side, key):
        return statistics.median(r[side][key] for r in rows if r["setting"] == setting)

    summary = {}
    for setting in SETTINGS.values():
        mine = [r for r in rows if r["setting"] == setting]
        for variant in NATIVES:
            print("bench-net-bypass: bypass-%s against %s over %d runs, median [min-max]: rtt ratio"
                  " %s, throughput ratio %s" % (
                      setting, variant, len(mine),
                      spread([r["rtt_ratio", variant] for r in mine]) if sending(setting) else "-",
                      spread([r["throughput_ratio", variant] for r in mine])))
        print("bench-net-bypass: bypass-%s exits per packet %s"
              % (setting, spread([r["bypass"]["exits_per_packet"] for r in mine])))
        if not sending(setting):
            continue
        summary[setting] = {
            "rtt_ratio": statistics.median(r["rtt_ratio", "native"] for r in mine),
            "throughput_ratio": statistics.median(r["throughput_ratio", "native"] for r in mine),
            "exits_per_packet": median(setting, "bypass", "exits_per_packet"),
        }

    network = os.path.join(OUT, "network.csv")
    bridge = None
    if os.path.exists(network):
        with open(network) as f:
            bridge = next((line.strip() for line in f if line.startswith("bridge,")), None)
    with open(network, "w") as f:
        f.write("path,exits_per_packet,copies_per_packet,rtt_ratio,throughput_ratio\n")
        f.write("native,0,0,1.000,1.000\n")
        for setting in ("polled", "interrupts"):
            s = summary[setting]
            f.write("bypass-%s,%.3f,0,%.3f,%.3f\n"
                    % (setting, s["exits_per_packet"], s["rtt_ratio"], s["throughput_ratio"]))
        if bridge:
            f.write(bridge + "\n")
    # After bench-net.py's rows (header, native-pair, bridge); a rerun of this script alone
    # replaces its own rows instead of adding more.
    table = os.path.join(OUT, "net.csv")
    kept = []
    if os.path.exists(table):
        with open(table) as f:
            kept = [line for line in f if not line.startswith(
                ("native-interrupts,", "native-polled,", "native-recv-", "native-translated-",
                 "bypass-"))]
    with open(table, "w") as f:
        f.writelines(kept)
        for side in NATIVES + ("bypass",):
            for setting in SETTINGS.values():
                ns = median(setting, side, "recv_ns")
                counted = side == "bypass"
                pinged = sending(setting)
                f.write("%s-%s,%d,%d,%d,%.0f,%s,%s,%s,%s,,%s,,0,0\n" % (
                    side, setting, case.BULK, ns, median(setting, side, "send_ns"),
                    case.BULK * 1e9 / ns,
                    "%.3f" % median(setting, side, "rtt") if pinged else "",
                    "%.3f" % median(setting, side, "rtt_min") if pinged else "",
                    "%d" % sum(r[side]["pings"][1] for r in rows if r["setting"] == setting)
                    if pinged else "",
                    "%d" % median(setting, side, "packets") if counted else "",
                    "%.3f" % median(setting, side, "exits_per_packet") if counted else
                    ("0" if side != "bypass" else "")))
    # net-rtt.csv: the round trips without their wire, every path against native in the
    # same repetition and mode (native-translated and bypass; native against itself).
    lines = []
    for side in NATIVES + ("bypass",):
        for mode in round_trip.MODES:
            mine = [(b if side == "bypass" else n[side])["round_trips"]
                    for _, b, n in round_trips]
            exits = ([b["round_trip_exits"][mode]["net_exits_per_round_trip"]
                      for _, b, _ in round_trips] if side == "bypass" else None)
            lines.append(round_trip.row(side, mode, mine, "native",
                                        [n["native"]["round_trips"] for _, _, n in round_trips],
                                        exits))
    round_trip.save(OUT, lines)
    for name in ("net.csv", "network.csv", "net-rtt.csv", "net-bypass-runs.csv"):
        with open(os.path.join(OUT, name)) as f:
            sys.stdout.write(f.read())

    # Bounds: ratios positive and below 100, every run's; a passed-through NIC's packet costs
    # at most a couple of exits (2 per interrupt), never thousands.
    problems = []
    for r in rows:
        for variant in NATIVES:
            ratios = [r["throughput_ratio", variant]] + ([r["rtt_ratio", variant]]
                                                         if sending(r["setting"]) else [])
            if not all(0 < x < 100 for x in ratios):
                problems.append("run %d bypass-%s: a ratio to %s outside (0, 100)"
                                % (r["run"], r["setting"], variant))
        if not 0 < r["bypass"]["exits_per_packet"] < 1000:
            problems.append("run %d bypass-%s: exits per packet %.3f outside (0, 1000)"
                            % (r["run"], r["setting"], r["bypass"]["exits_per_packet"]))
    # BENCH_NET_BYPASS_ONLY=1: this script alone, on a tree without bench-net.py's results.
    if not bridge and os.environ.get("BENCH_NET_BYPASS_ONLY") != "1":
        problems.append("network.csv has no bridge row (scripts/bench-net.py first)")
    # network-cost.csv: the clock-independent figure (with scripts/bench-net.py's bridge
    # records when there are); its bounds fail the bench as well.
    try:
        net_cost.main()
    except SystemExit as failed:
        if failed.code:
            problems.append(str(failed.code))
    if problems:
        sys.exit("bench-net-bypass: " + "; ".join(problems))


if __name__ == "__main__":
    main()
