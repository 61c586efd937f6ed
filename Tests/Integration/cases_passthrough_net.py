"""A Linux guest driving a passed-through NIC (docs/passthrough.md, "A Linux guest on a
passed-through virtio-net"): the node of cases_passthrough.py (q35, AMD-V, VT-d unit, a modern
virtio-net with `iommu_platform=on` in slot 0x11 on a multicast segment of its own) gives
0000:00:11.0 to a Debian VM, whose unmodified virtio_net driver binds it (MSI-X through the
node's host vectors), brings eth0 up with a static address and talks to a peer on that segment:
the same kernel and /init under a plain QEMU (no hypervisor: the "native" path).

- 20 pings from the VM to the peer, every one answered, and the peer's 20 to the VM.
- Two bulk transfers: BULK bytes of random data from the VM to the peer, sha256 on both
  ends equal; first with busybox nc and interrupts, then busy-polled: the VM's /bin/pollnet
  spins on a non-blocking socket with SO_PREFER_BUSY_POLL and eth0 keeps its interrupt masked
  (at most 0.03 virtio interrupts per packet; tuning_words). The VM's virtio_net runs
  without TX NAPI (napi_tx=0: no TX completion interrupts, checked per run).
- The VM's exits (`peregrine status`, exits by reason) read while it waits before and after the
  transfer (guests/linux/init: `bulkpause=`), minus its idle rate over the same time, per
  packet (eth0's rx + tx packets over the transfer); the hypervisor copies no packet (the VM
  has no virtual NIC: its only NIC is the device itself).

With PEREGRINE_BENCH_BYPASS_JSON naming a file (scripts/bench-net-bypass.py, `make bench`),
the node and the peer run under `-icount shift=0`, the VM pings the peer BENCH_PINGS times in
each run's setting (init `bulkpings=`), the peer then sends the data back twice (the VM
receiving, with interrupts and busy-polling), and the run's figures go to that file as JSON:
the bench compares them with the same guest and peer under plain QEMU (native). The runs the
VM receives get the same exit window and checks (the VM waits `bulkpause=` after BULK-LISTEN
before it listens), and the figures carry both ends' CPU cost of every transfer (init's
BULK-COST; scripts/bench/net_cost.py).
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

from harness import Case, DriverFailure
import cases_management
from cases_net import free_udp_port
from cases_passthrough import PassthroughClaimDriver, spare_nic_node_args

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "bench"))
import net_cost  # noqa: E402
import round_trip  # noqa: E402

ROOT = cases_management.ROOT
KERNEL = os.path.join(ROOT, "build", "linux", "vmlinuz")
INITRD = os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz")
ISOS = {}
PINGS = 20
BULK = 4 << 20
PAUSE = 6
VM_ADDRESS, PEER_ADDRESS = "10.0.7.1", "10.0.7.2"
VM_MAC = "52:54:00:77:00:11"
BENCH_PINGS = 10
# UDP round trips each way before the transfers (init `bulkrtt=`, guests/linux/pingpong.c):
# the bench's latency figure, and a check of the tool in every run of the case.
BENCH_ROUND_TRIPS, ROUND_TRIPS = 400, 20
BULK_RECV = re.compile(r"^BULK run=(\d+) role=recv bytes=(\d+) sha256=(\w+) ns=(\d+)", re.MULTILINE)
BULK_PING = re.compile(r"^BULK-PING run=(\d+) sent=(\d+) received=(\d+)"
                       r" rtt=([\d.]+)/([\d.]+)/([\d.]+)", re.MULTILINE)

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <type>peregrine</type>
  <memory unit="MiB">160</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 cryptomgr.notests no_timer_check quiet %s</cmdline>
  <passthrough pci="0000:00:11.0"/>
</profile>
"""

PING = re.compile(r"^PING peer=(\S+) sent=(\d+) received=(\d+) rtt=([\d.]+)/([\d.]+)/([\d.]+)",
                  re.MULTILINE)


def guest_words(address, peer, extra):
    return ("ipaddr=%s/24 ping=%s pings=%d pingwait=600 linger=0 %s"
            % (address, peer, PINGS, extra))


def bench_file():
    """The bench's figures file (PEREGRINE_BENCH_BYPASS_JSON), or None outside the bench."""
    return os.environ.get("PEREGRINE_BENCH_BYPASS_JSON") or None


# The bench's two more transfers: the peer sends the last data it received back to the VM,
# with interrupts (run 3) and busy-polling (run 4) in the VM (init `bulkswap=`).
BENCH_RUNS = "bulkruns=4 bulkswap=3"


# The busy-polled runs' setting (docs/passthrough.md, "A continuously busy-polling
# application"): /bin/pollnet spins on non-blocking sockets with SO_PREFER_BUSY_POLL, and eth0
# keeps its interrupt masked for one empty poll after each busy poll, its NAPI watchdog
# gro_flush_timeout ahead. 20 ms is longer than the guest's 4 ms tick (HZ=250), so the
# watchdog, pushed ahead by every poll, is never the earliest timer: arming it programs no
# deadline (Linux 6.1 hrtimer_reprogram), and it fires only once the application stops.
SPIN_DEFER, SPIN_FLUSH_NS = 1, 20000000


def tuning_words():
    """The VM's virtio_net and NAPI settings (docs/passthrough.md, "Interrupt deferral and TX
    NAPI"): virtio_net loads with napi_tx=0 (TX completions freed as it sends: no TX
    interrupts), or PEREGRINE_NET_NAPITX's value (1: Linux's default, the figures before).
    The busy-polled runs spin (init `bulkspin=1`, SPIN_DEFER/SPIN_FLUSH_NS); with
    PEREGRINE_NET_SPIN=0 they use nc with net.core.busy_read/busy_poll as before, and
    PEREGRINE_NET_DEFER="N:NS" then sets eth0's napi_defer_hard_irqs N and gro_flush_timeout
    NS ns in them (init `bulkdefer= bulkflush=`; measured with nc, costs more exits than it
    saves)."""
    words = " netnapitx=%d" % int(os.environ.get("PEREGRINE_NET_NAPITX", "0"))
    if spinning():
        return words + " bulkspin=1 bulkdefer=%d bulkflush=%d" % (SPIN_DEFER, SPIN_FLUSH_NS)
    setting = os.environ.get("PEREGRINE_NET_DEFER")
    if setting:
        defer, flush = setting.split(":")
        words += " bulkdefer=%d bulkflush=%d" % (int(defer), int(flush))
    return words


def spinning():
    """Whether the busy-polled runs use /bin/pollnet's spinning loop (the default)."""
    return os.environ.get("PEREGRINE_NET_SPIN", "1") != "0"


def vm_words(bench):
    """The VM's /init words: the sender of two transfers (the second busy-polls); in the bench
    also BENCH_PINGS pings per run and two transfers it receives; virtio_net without TX NAPI
    (tuning_words). The native run of the bench boots the same words."""
    return guest_words(VM_ADDRESS, PEER_ADDRESS, "bulk=%d bulkrole=send bulkpeer=%s bulkpause=%d"
                       " bulkpoll=50%s %s %s" % (
                           BULK, PEER_ADDRESS, PAUSE, tuning_words(), round_trip_words(bench),
                           "bulkpings=%d %s" % (BENCH_PINGS, BENCH_RUNS) if bench
                           else "bulkruns=2"))


def round_trip_words(bench):
    """The round trips before the transfers, on both ends (init `bulkrtt=`): busy-polled with
    the device interrupt masked as in the spinning transfers (`rttnapi=`); in the bench PAUSE
    s before each mode, where the harness reads the VM's exit counters."""
    words = "rttnapi=%d:%d " % (SPIN_DEFER, SPIN_FLUSH_NS)
    if bench:
        return words + "bulkrtt=%d bulkrttpause=%d" % (BENCH_ROUND_TRIPS, PAUSE)
    return words + "bulkrtt=%d" % ROUND_TRIPS


def peer_command(port, bench):
    """The peer: the same kernel and /init under a plain QEMU (q35, a modern virtio-net on
    the segment), the receiver of both transfers (in the bench the sender of two more,
    everything under -icount); it pings the VM too."""
    words = guest_words(PEER_ADDRESS, VM_ADDRESS, "bulk=%d bulkrole=recv %s %s" % (
        BULK, round_trip_words(bench),
        "bulkpeer=%s %s" % (VM_ADDRESS, BENCH_RUNS) if bench else "bulkruns=2"))
    return (["timeout", "1500", "qemu-system-x86_64", "-machine", "q35", "-m", "256M"]
            + (["-icount", "shift=0"] if bench else [])
            + ["-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
               "-kernel", KERNEL, "-initrd", INITRD,
               "-append", "console=ttyS0 cryptomgr.notests quiet no_timer_check panic=-1 " + words,
               "-netdev", "socket,id=n0,mcast=230.0.0.1:%d,localaddr=127.0.0.1" % port,
               "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:77:00:22"])


def bench_figures(vm_text, peer_text):
    """{run: {rtt, rtt_min, pings (runs the VM sends), recv_ns, send_ns, busypoll (the VM's),
    receiver}} and the boot pings both ways, from the VM's and the peer's consoles (the
    bench's and the native run's)."""
    runs = {}
    for found in BULK_PING.finditer(vm_text):
        runs.setdefault(int(found.group(1)), {}).update(
            rtt=float(found.group(5)), rtt_min=float(found.group(4)),
            pings=(int(found.group(2)), int(found.group(3))))
    for found in re.finditer(r"^BULK-(?:READY|LISTEN) run=(\d+) busypoll=(\d+)$", vm_text,
                             re.MULTILINE):
        runs.setdefault(int(found.group(1)), {})["busypoll"] = int(found.group(2))
    for side, text in (("vm", vm_text), ("peer", peer_text)):
        for found in re.finditer(r"^BULK run=(\d+) role=send bytes=(\d+) sha256=(\w+) ns=(\d+)",
                                 text, re.MULTILINE):
            runs.setdefault(int(found.group(1)), {}).update(send_ns=int(found.group(4)),
                                                             sha=found.group(3))
        for found in BULK_RECV.finditer(text):
            runs.setdefault(int(found.group(1)), {}).update(
                recv_ns=int(found.group(4)), recv_bytes=int(found.group(2)),
                recv_sha=found.group(3), receiver=side)
    # The transfers' CPU cost (init's BULK-COST, scripts/bench/net_cost.py) on both ends: the
    # VM's (the figure) and the peer's (the same plain QEMU in the bypass and the native run: a
    # control), and the VM's packets and interrupts of every run.
    for side, text in (("cost", vm_text), ("peer_cost", peer_text)):
        for run, cost in net_cost.parse_lines(text, "BULK-COST").items():
            runs.setdefault(int(run), {})[side] = cost
    for found in re.finditer(r"^BULK-PACKETS run=(\d+) rx=(\d+) tx=(\d+) irqs=(\d+)$", vm_text,
                             re.MULTILINE):
        runs.setdefault(int(found.group(1)), {}).update(
            vm_packets=int(found.group(2)) + int(found.group(3)), vm_irqs=int(found.group(4)))
    clock = re.search(r"^BULK-CLOCK source=(\S+) mhz=(\S+)$", vm_text, re.MULTILINE)
    boot = [PING.search(text) for text in (vm_text, peer_text)]
    return {"runs": {str(k): v for k, v in sorted(runs.items())},
            "round_trips": round_trip.figures(vm_text, peer_text),
            "clock": clock.group(1, 2) if clock else None,
            "boot_rtt": [float(b.group(5)) if b else None for b in boot]}


class LiveConsole:
    """`peregrine console VM` followed in a thread: its lines as they arrive."""

    def __init__(self, driver, vm):
        env = dict(os.environ, PEREGRINE_HOME=driver.home)
        self.proc = subprocess.Popen([cases_management.CLI, "console", vm], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.text = ""
        self.lock = threading.Lock()
        threading.Thread(target=self.pump, daemon=True).start()

    def pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.lock:
                self.text += raw.decode("utf-8", "replace").replace("\r", "")

    def wait(self, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = re.search(pattern, self.text, re.MULTILINE)
            if found:
                return found
            time.sleep(0.2)
        raise DriverFailure("the VM's console lacks %r after %d s: %s"
                            % (pattern, timeout, self.text[-1500:]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def window_exits(before, idle, after):
    """A window's exits from three `exits()` readings (before the pause, after it, after the
    work): (the idle rate per second over the pause, the work's span in s, its exits, those
    net of the idle rate, {reason: its exits over the span})."""
    idle_rate = (idle[0] - before[0]) / max(idle[2] - before[2], 0.001)
    span = after[2] - idle[2]
    moved = after[0] - idle[0]
    reasons = {r: after[1].get(r, 0) - idle[1].get(r, 0) for r in after[1]}
    return idle_rate, span, moved, max(moved - idle_rate * span, 0), reasons


class PassthroughLinuxNetDriver(PassthroughClaimDriver):
    def exits(self, vm):
        """(total exits, {reason: count}) from `peregrine status VM`."""
        text = self.ok("status", vm)
        total = re.search(r"^\s*exits\s+(\d+)$", text, re.MULTILINE)
        if not total:
            raise DriverFailure("status of %s has no exits line: %s" % (vm, text))
        reasons = {}
        after = text[total.end():].splitlines()
        for line in after[1:]:
            found = re.match(r"^\s+([\w-]+)\s+(\d+)$", line)
            if not found:
                break
            reasons[found.group(1)] = int(found.group(2))
        return int(total.group(1)), reasons, time.time()

    def peer(self, port, log):
        return subprocess.Popen(peer_command(port, bench_file() is not None), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def drive(self):
        port = free_udp_port()
        extra = spare_nic_node_args(port)
        # The bench: every QEMU under -icount (the node has 1 CPU, which -icount needs).
        slow = 1
        if bench_file():
            extra += " -icount shift=0"
            slow = 3
        self.figures = []
        self.ok("node", "up", "--count", "1", "--cpus", "1", "--memory", "512M", "--wait",
                str(150 * slow), timeout=200 * slow, extra_env={"PEREGRINE_NODE_QEMU_ARGS": extra})
        self.wait_serial(r"^\[info \] pci 00:11\.0 1af4:1041 class 02\.00", 30 * slow)
        peer_log_path = os.path.join(self.home, "peer.log")
        peer_log = open(peer_log_path, "w")
        peer = self.peer(port, peer_log)
        console = None
        started = time.time()
        try:
            path = os.path.join(self.home, "owner.xml")
            with open(path, "w") as f:
                f.write(PROFILE % ("owner", KERNEL, INITRD, vm_words(bench_file() is not None)))
            self.ok("create", path)
            console = LiveConsole(self, "owner")
            self.wait_serial(r"^\[info \] passthrough: vm owner: pci 0000:00:11\.0 in guest slot .*"
                             r"MSI-X table trapped, (\d+) of \1 entries on host vectors 0x\w+-0x\w+")
            found = console.wait(r"^NET eth0 (\S+) (\S+)$", 300)
            if found.group(1) != VM_MAC:
                raise DriverFailure("eth0 is not the passed-through NIC: %s" % found.group(0))
            self.notes.append("VM up, eth0 %s %s after %.0f s" % (found.group(1), found.group(2),
                                                                  time.time() - started))
            ping = PING.search(console.wait(r"^PING peer=.*$", 700 * slow).group(0))
            if int(ping.group(2)) != PINGS or int(ping.group(3)) != PINGS:
                raise DriverFailure("VM's pings: %s" % ping.group(0))
            self.notes.append("VM -> peer: %s" % ping.group(0))
            rtt_windows = {}
            if bench_file():
                for mode in round_trip.MODES:
                    console.wait(r"^BULK-RTT-READY mode=%s$" % mode, 180 * slow)
                    before = self.exits("owner")
                    time.sleep(PAUSE / 2.0)
                    idle = self.exits("owner")
                    console.wait(r"^BULK-RTT-DONE mode=%s$" % mode, 300 * slow)
                    rtt_windows[mode] = (before, idle, self.exits("owner"))
            measured = []
            # The bench counts the runs the VM receives too (it waits PAUSE s after
            # BULK-LISTEN before it listens).
            for run in (1, 2, 3, 4) if bench_file() else (1, 2):
                console.wait(r"^BULK-(?:READY|LISTEN) run=%d " % run, 180 * slow)
                before = self.exits("owner")
                # The idle rate: the VM waits PAUSE s before the transfer.
                time.sleep(PAUSE / 2.0)
                idle = self.exits("owner")
                console.wait(r"^BULK-DONE run=%d$" % run, 300 * slow)
                after = self.exits("owner")
                measured.append((before, idle, after))
            peer.wait(timeout=240 * slow)
            self.wait_serial(r"^\[info \] vm owner: lifetime ", 120 * slow)
        finally:
            if peer.poll() is None:
                # SIGTERM: `timeout` passes it on to the QEMU (a SIGKILL would orphan it).
                peer.terminate()
                try:
                    peer.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    peer.kill()
            peer_log.close()
            if console:
                console.close()
            with open(peer_log_path, errors="replace") as f:
                peer_text = f.read().replace("\r", "")
            try:
                with open(os.path.join(os.path.dirname(cases_management.CLI), "..", "test-logs",
                                       "PassthroughLinuxNetDriver-peer.log"), "w") as f:
                    f.write(peer_text)
                if console:
                    with open(os.path.join(os.path.dirname(cases_management.CLI), "..",
                                           "test-logs", "PassthroughLinuxNetDriver-vm.log"),
                              "w") as f:
                        f.write(console.text)
            except OSError:
                pass
        peer_ping = PING.search(peer_text)
        if not peer_ping or int(peer_ping.group(3)) != PINGS:
            raise DriverFailure("the peer's pings: %s" % peer_text[-1500:])
        self.notes.append("peer -> VM: %s" % peer_ping.group(0))
        text = self.serial()
        eoi_exits = self.eoi_exits_per_interrupt(text)
        round_trip_exits = self.check_round_trips(console.text, peer_text, rtt_windows)
        for run, (before, idle, after) in zip((1, 2, 3, 4), measured):
            self.measure(run, console.text, peer_text, before, idle, after, eoi_exits)
        if bench_file():
            figures = bench_figures(console.text, peer_text)
            figures["round_trip_exits"] = round_trip_exits
            for row in self.figures:
                figures["runs"][str(row["run"])].update(row)
            with open(bench_file(), "w") as f:
                json.dump(figures, f, indent=1, sort_keys=True)
            self.notes.append("bench figures: %s" % json.dumps(figures, sort_keys=True))
        report = re.search(r"^\s*pci: .*MSIs (\d+) delivered, (\d+) undelivered, (\d+) dropped",
                           text, re.MULTILINE)
        if not report or int(report.group(1)) == 0 or int(report.group(2)) or int(report.group(3)):
            raise DriverFailure("the VM's PCI report: %s" % (report and report.group(0)))
        self.notes.append("VM end report: %s" % report.group(0).strip())
        for line in re.findall(r"^\[info \] passthrough: (?!.*nested paging).*$", text,
                               re.MULTILINE):
            self.notes.append(line)
        for pattern in [r"PEREGRINE (PANIC|EXCEPTION)", r"IOMMU fault"]:
            if re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("the node's console has %r" % pattern)
        return self.notes

    def check_round_trips(self, vm_text, peer_text, windows):
        """The round trips before the transfers (guests/linux/pingpong.c): every one back and
        costed on both ends, and waiting for an interrupt costlier than busy-polling on the
        VM's side (natively 72 against 13 us of emulated instructions). In the bench, the VM's
        exits per round trip in each mode, net of the idle rate: {mode: {...}}."""
        rounds = BENCH_ROUND_TRIPS if bench_file() else ROUND_TRIPS
        found = round_trip.figures(vm_text, peer_text)
        problems = round_trip.check(found, rounds, "the VM's round trips")
        if problems:
            raise DriverFailure("; ".join(problems))
        if found["i"]["asker_ns"] <= found["p"]["asker_ns"]:
            raise DriverFailure("the VM's round trip costs it %.0f ns waiting for the interrupt,"
                                " no more than busy-polling (%.0f ns)"
                                % (found["i"]["asker_ns"], found["p"]["asker_ns"]))
        # Each reply interrupts the VM that waits for it. The VM that busy-polls keeps the
        # device interrupt masked for most of them: under -icount 81 of 406 datagrams still
        # came with one, and 83 natively (the same guest under plain QEMU): Linux's, not the
        # hypervisor's. Its NAPI watchdog (20 ms of guest time) ends a longer wait with one
        # too, and without -icount a guest's time is the host's: on a loaded host that can be
        # most rounds, so only the bench, under -icount, bounds it below the interrupts'.
        interrupts = {m: round_trip.interrupts_per_round_trip(found, m) for m in "ip"}
        polled_bound = (0.5 if bench_file() else 1.0) * (interrupts["i"] or 0)
        if None in interrupts.values() or interrupts["i"] < 0.5 \
                or interrupts["p"] > polled_bound:
            raise DriverFailure("the VM's virtio interrupts per round trip: %r (at least 0.5"
                                " with interrupts, at most %.3f busy-polled)"
                                % (interrupts, polled_bound))
        exits = {}
        for mode, (before, idle, after) in sorted(windows.items()):
            idle_rate, span, moved, net, reasons = window_exits(before, idle, after)
            reasons = {r: n for r, n in reasons.items() if n}
            trips = rounds + round_trip.EXTRA_TRIPS
            exits[mode] = {"round_trips": trips, "exits": moved,
                           "net_exits_per_round_trip": net / trips, "idle_rate": idle_rate,
                           "span": span, "reasons": reasons}
        for mode in round_trip.MODES:
            got = found[mode]
            self.notes.append(
                "round trips, mode %s: %d; the VM's path %.1f us, the peer's %.1f us, together"
                " %.1f us [p10 %.1f, p90 %.1f]; %.3f virtio interrupts per round trip%s"
                % (mode, got["rounds"], got["asker_ns"] / 1e3, got["server_ns"] / 1e3,
                   got["round_trip_ns"] / 1e3, got["round_trip_p10_ns"] / 1e3,
                   got["round_trip_p90_ns"] / 1e3, interrupts[mode],
                   "; %.3f exits per round trip net of the idle rate (%s)" % (
                       exits[mode]["net_exits_per_round_trip"], ", ".join(
                           "%s %d" % kv for kv in sorted(exits[mode]["reasons"].items())))
                   if mode in exits else ""))
        return exits

    def eoi_exits_per_interrupt(self, text):
        """The share of the VM's interrupts whose EOI exited, over its life: Linux EOIs through
        KVM's paravirtual flag (docs/guest-abi.md) while the hypervisor knows which vector the
        EOI retires, and writes the x2APIC EOI register (a WRMSR exit) otherwise. The VM's end
        report counts both (its first statistics block is the VM's own)."""
        injected = re.search(r"^    injected events: (\d+)$", text, re.MULTILINE)
        flagged = re.search(r"^    EOIs through the paravirtual flag \(no exit\): (\d+)$", text,
                            re.MULTILINE)
        if not injected or not flagged:
            raise DriverFailure("the VM's end report has no paravirtual EOI count: %s / %s"
                                % (injected and injected.group(0), flagged and flagged.group(0)))
        share = 1.0 - int(flagged.group(1)) / max(int(injected.group(1)), 1)
        # Every interrupt of a one-at-a-time stream qualifies; a few nest or queue behind one.
        if share > 0.25:
            raise DriverFailure("only %s of %s EOIs went through the paravirtual flag"
                                % (flagged.group(1), injected.group(1)))
        self.notes.append("EOIs without an exit: %s of %s injected interrupts (%.3f exited)"
                          % (flagged.group(1), injected.group(1), share))
        return share

    def measure(self, run, vm_text, peer_text, before, idle, after, eoi_exits):
        """One transfer's checks and figures (runs 2 and 4 busy-poll; in runs 3 and 4 of the
        bench the VM receives). `eoi_exits`: the share of EOIs that exit."""
        receiving = run >= 3
        sender, receiver = (peer_text, vm_text) if receiving else (vm_text, peer_text)
        sent = re.search(r"^BULK run=%d role=send bytes=(\d+) sha256=(\w+) ns=(\d+)" % run,
                         sender, re.MULTILINE)
        received = re.search(r"^BULK run=%d role=recv bytes=(\d+) sha256=(\w+)" % run,
                             receiver, re.MULTILINE)
        packets = re.search(r"^BULK-PACKETS run=%d rx=(\d+) tx=(\d+) irqs=(\d+)$" % run, vm_text,
                            re.MULTILINE)
        poll = re.search(r"^BULK-(?:READY|LISTEN) run=%d busypoll=(\d+)$" % run, vm_text,
                         re.MULTILINE)
        if not sent or not received or not packets:
            raise DriverFailure("run %d: sent %r received %r packets %r"
                                % (run, sent and sent.group(0), received and received.group(0),
                                   packets and packets.group(0)))
        if int(sent.group(1)) != BULK or int(received.group(1)) != BULK \
                or sent.group(2) != received.group(2):
            raise DriverFailure("run %d: bulk differs: %s / %s" % (run, sent.group(0),
                                                                   received.group(0)))
        count = int(packets.group(1)) + int(packets.group(2))
        irqs = int(packets.group(3))
        idle_rate, span, moved, net, reasons = window_exits(before, idle, after)
        path = ("bypass-polled" if poll and poll.group(1) != "0" else "bypass-interrupts") + (
            " receiving" if receiving else "")
        self.notes.append(
            "%s (run %d, busy_poll %s us): %d bytes, sha256 %s on both ends, %.1f ms guest time;"
            " packets %d (rx %s, tx %s), virtio interrupts %d (%.3f per packet); exits %d over"
            " %.1f s around it, idle %.1f/s; exits by reason: %s"
            % (path, run, poll.group(1) if poll else "?", BULK, sent.group(2)[:16],
               int(sent.group(3)) / 1e6, count, packets.group(1), packets.group(2), irqs,
               irqs / count, moved, span, idle_rate, ", ".join(
                   "%s %d" % (r, n) for r, n in sorted(reasons.items(), key=lambda x: -x[1]) if n)))
        # Nothing on the data path exits (the notify and ring pages are mapped BAR and RAM;
        # the hypervisor copies nothing): a doorbell or ring access that exited would be an npf,
        # about one per packet sent. Each interrupt costs its host vector's extint exit, and its
        # EOI an exit only when the paravirtual flag was not set (`eoi_exits`; a WRMSR of the
        # x2APIC EOI then): 1 + eoi_exits per interrupt. extint is no bound (the host vector
        # exits only when it lands while the guest runs, not while its CPU is in the
        # hypervisor), nor is wrmsr (the timer's deadline writes over the same wall time). The
        # npf exits allowed are the idle rate's over the window (the guest's other MMIO) and a
        # margin far below one per packet.
        npf = reasons.get("npf", 0)
        idle_npf = (idle[1].get("npf", 0) - before[1].get("npf", 0)) / max(idle[2] - before[2],
                                                                           0.001)
        allowance = 0.05 * count + 1.5 * idle_npf * span + 20
        if npf > allowance:
            raise DriverFailure("run %d: %d packets, %d npf exits (at most %d allowed: the data"
                                " path exits), %d virtio interrupts, %s extint"
                                % (run, count, npf, allowance, irqs, reasons.get("extint")))
        per_packet = (1.0 + eoi_exits) * irqs / count
        timer = re.search(r"^BULK-TIMER run=%d loc=(\d+) defer=(\d+) flush=(\d+) rxq=(\d+)"
                          r" txq=(\d+)$" % run, vm_text, re.MULTILINE)
        # Each reason's exits in the window minus its own idle rate over the window, per packet
        # (the guest's timer: its deadline `wrmsr` and the host tick's `extint`; `cpuid` and
        # `io` are init's own commands and console lines, about 0.08 and 0.11 per packet), and
        # the guest's local timer interrupts (LOC) and virtio interrupts per queue: the WINDOW
        # note. With bulkdefer= the ROW figure (virtio interrupts only) leaves out the NAPI
        # timer's exits; this line has them.
        idle_span = max(idle[2] - before[2], 0.001)
        net_reasons = {r: (n - (idle[1].get(r, 0) - before[1].get(r, 0)) / idle_span * span)
                       / count for r, n in reasons.items()}
        if not timer:
            raise DriverFailure("run %d: the VM printed no BULK-TIMER line" % run)
        # Without TX NAPI (init `netnapitx=0`) the TX queue's callback stays off unless its
        # ring fills: no TX interrupts in a 4 MiB transfer (0 in every run measured).
        if " netnapitx=0" in tuning_words() and int(timer.group(5)) > 0.02 * count:
            raise DriverFailure("run %d: napi_tx=0, yet %s TX queue interrupts for %d packets"
                                % (run, timer.group(5), count))
        # The spinning runs (init `bulkspin=1`): the VM's pollnet moved the data on a socket
        # with a NAPI context to poll, and the device interrupted (almost) never: 0.004-0.013
        # per packet in the runs measured, as many as natively (the connection's first
        # packet, which gives the socket its NAPI context; virtio_net's completion window;
        # gaps of more than gro_flush_timeout between two polls when a loaded host stops the
        # emulator); nc's busy-polled runs took 0.05-0.1 and its runs with interrupts
        # 0.04-0.1. The bound leaves room for a loaded host.
        if poll and poll.group(1) != "0" and spinning():
            line = re.search(r"^POLLNET role=(send|recv) bytes=(\d+) napi_id=(\d+) waits=(\d+)"
                             r" empty_ns=(\d+)$",
                             vm_text[vm_text.find("BULK-%s run=%d " % (
                                 "LISTEN" if receiving else "READY", run)):], re.MULTILINE)
            if not line or int(line.group(2)) != BULK or int(line.group(3)) == 0 \
                    or line.group(1) != ("recv" if receiving else "send"):
                raise DriverFailure("run %d: pollnet's line %r (the whole transfer, on a socket"
                                    " with a NAPI context)" % (run, line and line.group(0)))
            if irqs > 0.03 * count:
                raise DriverFailure("run %d: pollnet spun, yet %d virtio interrupts for %d"
                                    " packets" % (run, irqs, count))
        if timer:
            self.notes.append(
                "WINDOW %s run=%d defer=%s flush=%s packets=%d irqs_pp=%.3f loc=%s loc_pp=%.3f"
                " window_pp=%.3f net_pp=%.3f extint_pp=%.3f wrmsr_pp=%.3f npf_pp=%.3f"
                " idle_rate=%.1f span=%.1f ms=%.1f rxq_irqs=%s txq_irqs=%s"
                % (path, run, timer.group(2), timer.group(3), count, irqs / count,
                   timer.group(1), int(timer.group(1)) / count, moved / count, net / count,
                   reasons.get("extint", 0) / count, reasons.get("wrmsr", 0) / count,
                   npf / count, idle_rate, span, int(sent.group(3)) / 1e6, timer.group(4),
                   timer.group(5))
                + " net_by_reason_pp=" + ",".join("%s:%.3f" % (r, v) for r, v in
                                                 sorted(net_reasons.items()) if abs(v) >= 0.0005))
        self.notes.append("ROW %s exits_per_packet=%.3f (%.3f per interrupt; all exits in the"
                          " window %.3f, minus the idle rate %.3f) copies_per_packet=0"
                          % (path, per_packet, 1.0 + eoi_exits, moved / count, net / count))
        # The bench (scripts/bench-net-bypass.py) takes these with the guest-clock figures.
        self.figures.append({"run": run, "path": path, "exits_per_packet": per_packet,
                             "window_exits_per_packet": moved / count,
                             "window_net_exits_per_packet": net / count, "packets": count,
                             "interrupts": irqs, "window_npf": npf,
                             "window_extint": reasons.get("extint", 0)})


def prepare(selected):
    """The Debian kernel and the initramfs with the current guests/linux/init (run.py fetches
    them only for cases whose ISO carries Linux; this case's VMs come from profiles)."""
    if not any(case.name == CASE for case in selected):
        return
    result = subprocess.run([os.path.join(ROOT, "scripts", "fetch-linux-fixtures.sh")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit("could not fetch the Linux fixtures: %s"
                         % result.stdout.decode("utf-8", "replace")[-800:])


CASE = "qemu-svm-passthrough-linux-net"


def cases():
    return [
        Case(CASE, "host", cases_management.ISO, [], timeout=1200,
             driver=PassthroughLinuxNetDriver()),
    ]
