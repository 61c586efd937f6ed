#!/usr/bin/env python3
"""NVMe SR-IOV passthrough against native, clock-independent (docs/passthrough.md, "NVMe VF
against native"; issue 14 item 5): build/bench/nvme.csv and nvme-runs.csv.

- vf: the node of the integration case qemu-svm-sriov-nvme-linux (Tests/Integration/
  cases_sriov.py: q35, VT-d with interrupt remapping, QEMU 7.2's NVMe controller with
  SR-IOV in an nvme-subsys, 2 VFs brought online by the node, namespace 1 attached to VF 1's
  secondary controller; 1 CPU, 512 MiB) under `-icount shift=0`, one 160 MiB Debian VM
  owning VF 0000:00:04.1 (the case's `vma`, without its attacks).
- native-vf and native-pf: the same kernel, initramfs and /init words directly under QEMU
  (q35, -cpu EPYC, 160 MiB, no IOMMU: the driver hands the device guest-physical addresses,
  as the VM's does; `-icount shift=0`) with the same nvme-subsys and NVMe controller in slot
  4 and a 16 MiB namespace 1. native-vf (what busy_ratio compares with): the node's device
  line as it is (SR-IOV, 8 flexible VQ and 4 VI), namespace 1 detached, and the guest does
  itself through the PF what the node does (init `nvmebenchvf=VQ:VI`: VF 1 enabled, its
  secondary controller given the node's share of queues and interrupts and set online,
  namespace 1 attached to it) and binds Debian's nvme driver to the VF: the same function
  and namespace setup as the VM's, without the hypervisor. native-pf: the namespace on the
  subsystem's primary controller (no SR-IOV resources, so it keeps all 5 vectors). Both are
  a multi-controller subsystem, so Linux's native multipath layers a head (nvme0n1) over the
  one path in every run, as in the VM. BENCH_NVME_NATIVES (default native-vf,native-pf):
  the native runs, the first the reference.

In both, guests/linux/init's `nvmebench=COUNT` words: for queue depth 1 and 4, COUNT random
4 KiB blocks written with O_DIRECT and read back (/bin/nvmeio: Linux AIO keeping DEPTH
requests in flight, one request per block, merges off), sha256 of both. Each phase's CPU
cost is busy guest ns (guest CLOCK_MONOTONIC minus idle and iowait sleep, /proc/timer_list)
over the I/O window minus an empty window as long: under -icount one ns is one emulated
instruction, whatever the host's load. For the VM that is the node's CPU while the guest was
busy: the guest's instructions and the hypervisor's in the exits taken then (not counted:
the world switch itself, one TCG instruction, and what hardware would pay for it; nor the
hypervisor's handling of an interrupt that lands while the guest halts: idle time to the
guest. At depth 1 whether the guest halts between I/Os depends on the device's latency in
host time, so that figure is bimodal, natively as well: docs/passthrough.md). Exits per
I/O: the VM's `peregrine status` exits read when the guest announces a phase (it then idles
PAUSE guest s), again IDLE_READ s later (the idle rate) and when nvmeio prints
NVBENCH-IO-DONE (it then idles PAUSE/2 s: the window holds nothing the guest does after
the I/O but that line); the CSV's figure is the window's exits beyond the idle rate per I/O (the
raw figure, the idle rate and the exits by reason are in nvme-runs.csv).

nvme.csv: path,queue_depth,op,ios,busy_ns_per_io,busy_ratio,exits_per_io,runs; medians over
BENCH_NVME_RUNS repetitions (default 3; each a VM run and the native runs); busy_ratio =
the path's cost / the reference's (native-vf) in the same repetition, median. BENCH_NVME_IOS: I/Os per phase (1024).
The bounds (check) fail the bench.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "build", "bench")
sys.path.insert(0, os.path.join(ROOT, "Tests", "Integration"))
import cases_sriov as sriov  # noqa: E402
from cases_passthrough_net import KERNEL, INITRD, LiveConsole, PassthroughLinuxNetDriver  # noqa: E402
from harness import DriverFailure  # noqa: E402

RUNS = int(os.environ.get("BENCH_NVME_RUNS", "3"))
COUNT = int(os.environ.get("BENCH_NVME_IOS", "1024"))
DEPTHS = (1, 4)
OPS = ("write", "read")
# Guest seconds each phase idles before its I/O (the harness reads the exit counters at its
# start and IDLE_READ wall seconds later: the idle rate).
PAUSE = 4
IDLE_READ = 1.0
WORDS = "console=ttyS0 no_timer_check quiet nvmebench=%d nvmebenchpause=%d" % (COUNT, PAUSE)
VF = "0000:00:04.1"
# The native runs of each repetition; the first is the one busy_ratio compares with.
NATIVES = tuple(os.environ.get("BENCH_NVME_NATIVES", "native-vf,native-pf").split(","))
AGAINST = NATIVES[0]
PATHS = NATIVES + ("vf",)
HEADER = "path,queue_depth,op,ios,busy_ns_per_io,busy_ratio,exits_per_io,runs"
RUNS_HEADER = ("path,run,queue_depth,op,ios,busy_ns_per_io,busy_ns,base_busy_ns,window_ns,"
               "guest_ns_per_io,irqs_per_io,exits_per_io,exits_per_io_raw,idle_exits_per_s,"
               "exits_by_reason")

# Bounds. A 4 KiB O_DIRECT I/O costs Linux thousands of instructions (AIO syscalls, block
# layer, nvme driver, its interrupt), never under 1,000 or over 1,000,000; the VF within
# (0.5, 5) times native; exits per I/O beyond the idle rate below 40 (the case's sanity
# bound); an nvme interrupt per I/O at most (+5%), one per I/O at depth 1 (-5%).
PER_IO = (1000, 1000000)
RATIO = (0.5, 5.0)
EXITS_PER_IO = 40.0

COST = re.compile(r"^NVBENCH-COST label=(\S+) op=(\w+) depth=(\d+) ios=(\d+) busy_ns=(\d+)"
                  r" window_ns=(\d+) base_busy_ns=(\d+) base_window_ns=(\d+) cpus=(\d+)"
                  r" peak=(\d+) errors=(\d+)$", re.MULTILINE)
COUNTS = re.compile(r"^NVBENCH label=(\S+) reads=(-?\d+) writes=(-?\d+) irqs=(-?\d+)$",
                    re.MULTILINE)
DATA = re.compile(r"^NVBENCH-DATA depth=(\d+) written=(\w+) read=(\w+) bytes=(\d+)$",
                  re.MULTILINE)


# Every run's console, by (path, repetition).
TEXTS = {}


def environment(text):
    """{what: value}: the guest's clock source and CPU-bug mitigations (NVBENCH-CLOCK,
    NVBENCH-VULN): what can make the same kernel take other paths in the VM."""
    found = {"clocksource": m.group(1) for m in re.finditer(r"^NVBENCH-CLOCK (.*)$", text,
                                                            re.MULTILINE)}
    for m in re.finditer(r"^NVBENCH-VULN ([\w.-]+): (.*)$", text, re.MULTILINE):
        found[m.group(1)] = m.group(2)
    return found


def label(depth, op):
    return "qd%d-%s" % (depth, op)


def figures(text, where):
    """{label: {...}} from a guest's console; raises on anything incomplete or wrong."""
    problems = []
    if not re.search(r"^NVBENCH-END$", text, re.MULTILINE):
        raise SystemExit("bench-nvme: %s has no NVBENCH-END: %s" % (where, text[-1500:]))
    for bad in re.findall(r"^NVBENCH-FAIL.*$", text, re.MULTILINE):
        problems.append(bad)
    costs = {m.group(1): m for m in COST.finditer(text)}
    counts = {m.group(1): m for m in COUNTS.finditer(text)}
    data = {int(m.group(1)): m for m in DATA.finditer(text)}
    found = {}
    for depth in DEPTHS:
        d = data.get(depth)
        if not d or d.group(2) != d.group(3) or int(d.group(4)) != COUNT * 4096:
            problems.append("depth %d: read back differs: %s" % (depth, d and d.group(0)))
        for op in OPS:
            name = label(depth, op)
            c, n = costs.get(name), counts.get(name)
            if not c or not n:
                problems.append("%s: no NVBENCH-COST or NVBENCH line" % name)
                continue
            busy, window, base, base_window = (int(c.group(i)) for i in (5, 6, 7, 8))
            reads, writes, irqs = int(n.group(2)), int(n.group(3)), int(n.group(4))
            done = writes if op == "write" else reads
            other = reads if op == "write" else writes
            # Every I/O a request of its own at the device (merges off), DEPTH in flight.
            if int(c.group(4)) != COUNT or done != COUNT or other != 0 \
                    or int(c.group(11)) or int(c.group(10)) != depth:
                problems.append("%s: %s; %s" % (name, c.group(0), n.group(0)))
            if int(c.group(9)) != 1:
                problems.append("%s: %s CPUs (the figure is for one)" % (name, c.group(9)))
            if not 0.5 < base_window / max(window, 1) < 2:
                problems.append("%s: the empty window (%d ns) is not as long as the I/O's (%d)"
                                % (name, base_window, window))
            if not 0 < irqs <= COUNT * 1.05 or (depth == 1 and irqs < COUNT * 0.95):
                problems.append("%s: %d nvme interrupts for %d I/Os" % (name, irqs, COUNT))
            found[name] = {"busy_ns": busy, "base_busy_ns": base, "window_ns": window,
                           "cost_ns": busy - base, "ios": COUNT, "irqs": irqs}
    if problems:
        raise SystemExit("bench-nvme: %s: %s" % (where, "; ".join(problems)))
    return found


class BenchVMDriver(sriov.SRIOVDriver):
    """The case's node under -icount and one VM on VF 1 running the bench words."""
    case = "bench-nvme"
    exits = PassthroughLinuxNetDriver.exits

    def drive(self):
        extra, self.images = sriov.nvme_images(self.home)
        self.ok("node", "up", "--count", "1", "--cpus", "1", "--memory", "512M", "--wait", "450",
                timeout=600, extra_env={"PEREGRINE_NODE_QEMU_ARGS": extra + " -icount shift=0"})
        self.wait_serial(r"^\[info \] pci sriov 0000:00:04\.0: VFs ready \d+ ms after the"
                         r" capability was read", 120)
        self.wait_serial(r"^\[info \] pci sriov %s: NVMe namespace 1 attached to secondary"
                         r" controller 1 " % re.escape(VF), 60)
        self.wait_serial(r"^\[info \] iommu: root table set", 60)
        share = re.search(r"^\[info \] pci sriov %s: NVMe secondary controller 1 online with"
                          r" (\d+) VQ and (\d+) VI" % re.escape(VF), self.serial(), re.MULTILINE)
        if share:
            SHARE.update(vq=int(share.group(1)), vi=int(share.group(2)))
        path = os.path.join(self.home, "vma.xml")
        with open(path, "w") as f:
            f.write(PROFILE % (KERNEL, INITRD, WORDS, VF))
        self.ok("create", path, timeout=300)
        console = LiveConsole(self, "vma")
        self.windows = {}
        try:
            console.wait(r"^NVBENCH-DISK ", 900)
            for depth in DEPTHS:
                for op in OPS:
                    name = label(depth, op)
                    console.wait(r"^NVBENCH-READY label=%s$" % name, 300)
                    before = self.exits("vma")
                    time.sleep(IDLE_READ)
                    idle = self.exits("vma")
                    if re.search(r"^NVBENCH-IO-DONE label=%s$" % name, console.text,
                                 re.MULTILINE):
                        raise DriverFailure("%s: the I/O ended before the idle rate was read"
                                            % name)
                    console.wait(r"^NVBENCH-IO-DONE label=%s$" % name, 600)
                    after = self.exits("vma")
                    # nvmeio idles PAUSE/2 s after IO-DONE: nothing of the guest's after the
                    # I/O (its cost line, the sha256 sums, the next phase) in the window.
                    if re.search(r"^NVBENCH-COST label=%s " % name, console.text, re.MULTILINE):
                        raise DriverFailure("%s: the exit counters were read too late" % name)
                    self.windows[name] = (before, idle, after)
            console.wait(r"^NVBENCH-END$", 300)
            self.text = console.text
        finally:
            console.close()
            with open(os.path.join(OUT, "nvme-vf-%d.log" % self.index), "w") as f:
                f.write(console.text)
        return self.notes


PROFILE = """<?xml version="1.0"?>
<profile>
  <name>vma</name>
  <type>peregrine</type>
  <memory unit="MiB">160</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>%s</cmdline>
  <passthrough pci="%s"/>
</profile>
"""


def vf_run(index):
    """One VM run: its figures, each phase's exits added."""
    driver = BenchVMDriver()
    driver.index = index
    try:
        driver.run()
    except DriverFailure as failure:
        raise SystemExit("bench-nvme: vf run %d: %s (build/test-logs/bench-nvme-*.log)"
                         % (index, failure))
    TEXTS["vf", index] = driver.text
    found = figures(driver.text, "vf run %d" % index)
    for name, (before, idle, after) in driver.windows.items():
        ios = found[name]["ios"]
        rate = (idle[0] - before[0]) / max(idle[2] - before[2], 0.001)
        span = after[2] - idle[2]
        moved = after[0] - idle[0]
        reasons = {r: after[1].get(r, 0) - idle[1].get(r, 0) for r in after[1]}
        found[name].update(exits_raw=moved / ios, exits=max(moved - rate * span, 0) / ios,
                           idle_rate=rate, reasons=reasons)
    return found


# The node's device line (cases_sriov.NVME) for native-vf: the same controller, SR-IOV and
# flexible resources; namespace 1 detached until the guest attaches it to VF 1's controller.
NATIVE_DEVICES = {
    "native-pf": ["-device", "nvme,serial=deadbeef,subsys=subsys0,max_ioqpairs=10,msix_qsize=5,"
                  "addr=0x04", "-device", "nvme-ns,drive=nvm1,nsid=1,shared=false"],
    "native-vf": ["-device", "nvme,serial=deadbeef,subsys=subsys0,sriov_max_vfs=2,"
                  "sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=10,msix_qsize=5,addr=0x04",
                  "-device", "nvme-ns,drive=nvm1,nsid=1,shared=false,detached=true"],
}
# VF 1's secondary controller's queues and interrupts, as the node gave them (read from its
# console in the vf runs; 4 and 2 of the 8 and 4 flexible ones between 2 VFs).
SHARE = {"vq": 4, "vi": 2}


def native_run(index, variant):
    """The same guest under plain QEMU: on the subsystem's primary controller (native-pf), or
    on VF 1 brought online by the guest itself through the PF (native-vf)."""
    home = tempfile.mkdtemp(prefix="peregrine-nvmebench-")
    try:
        image = os.path.join(home, "nvm1.img")
        with open(image, "wb") as f:
            f.truncate(sriov.NAMESPACES[1][0])
        words = WORDS + (" nvmebenchvf=%d:%d" % (SHARE["vq"], SHARE["vi"])
                         if variant == "native-vf" else "")
        command = ["timeout", "900", "qemu-system-x86_64", "-machine", "q35", "-cpu", "EPYC",
                   "-m", "160M", "-icount", "shift=0", "-display", "none", "-monitor", "none",
                   "-serial", "stdio", "-no-reboot", "-kernel", KERNEL, "-initrd", INITRD,
                   "-append", words + " panic=-1",
                   "-drive", "file=%s,if=none,id=nvm1,format=raw" % image,
                   "-device", "nvme-subsys,id=subsys0"] + NATIVE_DEVICES[variant]
        path = os.path.join(OUT, "nvme-%s-%d.log" % (variant, index))
        with open(path, "w") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, cwd=ROOT)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().replace("\r", "")
        TEXTS[variant, index] = text
        if variant == "native-vf" and not re.search(r"^NVBENCH-VF bound=nvme$", text,
                                                    re.MULTILINE):
            raise SystemExit("bench-nvme: %s: VF 1 not bound to nvme: %s" % (path, text[-1500:]))
        return figures(text, path)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    runs = []
    for index in range(1, RUNS + 1):
        started = time.time()
        run = {"vf": vf_run(index)}
        times = ["vf %.0f s" % (time.time() - started)]
        for variant in NATIVES:
            started = time.time()
            run[variant] = native_run(index, variant)
            times.append("%s %.0f s" % (variant, time.time() - started))
        print("bench-nvme: repetition %d: %s" % (index, ", ".join(times)), flush=True)
        runs.append(run)

    mine, theirs = environment(TEXTS["vf", 1]), environment(TEXTS[AGAINST, 1])
    for key in sorted(set(mine) | set(theirs)):
        if mine.get(key) != theirs.get(key):
            print("bench-nvme: the VM's guest differs from %s's: %s %r, not %r"
                  % (AGAINST, key, mine.get(key), theirs.get(key)))
    problems = report(runs)
    if problems:
        sys.exit("bench-nvme: nvme.csv out of bounds: " + "; ".join(problems))


def report(runs, out=OUT, show=True):
    """nvme.csv and nvme-runs.csv from the repetitions' figures ({path: {label: figures}}
    each), printed when `show`; the bounds' problems (empty: fine)."""
    rows, problems = [], []
    with open(os.path.join(out, "nvme-runs.csv"), "w") as f:
        f.write(RUNS_HEADER + "\n")
        for index, run in enumerate(runs, 1):
            for path in PATHS:
                for depth in DEPTHS:
                    for op in OPS:
                        x = run[path][label(depth, op)]
                        ios = x["ios"]
                        f.write("%s,%d,%d,%s,%d,%.0f,%d,%d,%d,%.0f,%.3f,%s,%s,%s,%s\n" % (
                            path, index, depth, op, ios, x["cost_ns"] / ios, x["busy_ns"],
                            x["base_busy_ns"], x["window_ns"], x["window_ns"] / ios,
                            x["irqs"] / ios,
                            "%.3f" % x["exits"] if "exits" in x else "",
                            "%.3f" % x["exits_raw"] if "exits_raw" in x else "",
                            "%.1f" % x["idle_rate"] if "idle_rate" in x else "",
                            " ".join("%s:%d" % (r, n) for r, n in sorted(
                                x.get("reasons", {}).items(), key=lambda y: -y[1]) if n)))
                        per_io = x["cost_ns"] / ios
                        if not PER_IO[0] < per_io < PER_IO[1]:
                            problems.append("%s run %d %s: %.0f busy ns per I/O outside (%d, %d)"
                                            % (path, index, label(depth, op), per_io, *PER_IO))
                        if path == "vf" and not 0 <= x["exits"] < EXITS_PER_IO:
                            problems.append("vf run %d %s: %.3f exits per I/O outside [0, %.0f)"
                                            % (index, label(depth, op), x["exits"],
                                               EXITS_PER_IO))
                        if path == "vf" and x["exits_raw"] <= 0:
                            problems.append("vf run %d %s: no exits at all (an interrupt costs"
                                            " one)" % (index, label(depth, op)))
    for path in PATHS:
        for depth in DEPTHS:
            for op in OPS:
                name = label(depth, op)
                mine = [r[path][name] for r in runs]
                ratios = [r[path][name]["cost_ns"] / r[AGAINST][name]["cost_ns"] for r in runs
                          if r[AGAINST][name]["cost_ns"] > 0]
                if path != AGAINST:
                    for ratio in ratios:
                        if not RATIO[0] < ratio < RATIO[1]:
                            problems.append("%s %s: busy ratio %.3f to %s outside (%.1f, %.1f)"
                                            % (path, name, ratio, AGAINST, *RATIO))
                rows.append((path, depth, op, COUNT,
                             statistics.median(x["cost_ns"] / x["ios"] for x in mine),
                             statistics.median(ratios) if len(ratios) == len(runs) else None,
                             statistics.median(x["exits"] for x in mine) if path == "vf"
                             else None, len(runs), ratios))
    with open(os.path.join(out, "nvme.csv"), "w") as f:
        f.write(HEADER + "\n")
        for path, depth, op, ios, per_io, ratio, exits, count, _ in rows:
            f.write("%s,%d,%s,%d,%.0f,%s,%s,%d\n" % (
                path, depth, op, ios, per_io, "" if ratio is None else "%.3f" % ratio,
                "" if exits is None else "%.3f" % exits, count))
    for name in ("nvme.csv", "nvme-runs.csv") if show else ():
        with open(os.path.join(out, name)) as f:
            sys.stdout.write(f.read())
    for path, depth, op, _, _, ratio, _, _, ratios in rows:
        if show and path != AGAINST and ratios:
            print("bench-nvme: %s qd%d %s: busy %.3f of %s's, median [min-max] [%.3f-%.3f]"
                  " over %d runs" % (path, depth, op, ratio or 0, AGAINST, min(ratios),
                                     max(ratios), len(ratios)))
    if any(r[5] is None for r in rows):
        problems.append("a native run had no cost to compare with")
    return problems


if __name__ == "__main__":
    main()
