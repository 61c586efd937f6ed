#!/usr/bin/env python3
"""Host check of scripts/bench-nvme.py (nvme.csv's parser, checks, aggregation and bounds) on
saved console lines (scripts/bench/testdata/nvme-*.txt: a VM's and a native-vf guest's
NVBENCH lines from `make bench`, docs/passthrough.md "NVMe VF against native"). Prints PASS
or FAIL; exits non-zero on failure. Run by scripts/test.sh among the script checks."""

import copy
import importlib.util
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from host_check import Failures, sample  # noqa: E402
os.environ.pop("BENCH_NVME_IOS", None)
os.environ.pop("BENCH_NVME_NATIVES", None)
spec = importlib.util.spec_from_file_location(
    "bench_nvme", os.path.join(HERE, "..", "bench-nvme.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

failures = Failures()
expect = failures.expect


def rejected(text, what):
    try:
        bench.figures(text, "test")
    except SystemExit:
        return
    failures.append("accepted: %s" % what)


def with_exits(found, exits=1.0):
    found = copy.deepcopy(found)
    for x in found.values():
        x.update(exits=exits, exits_raw=exits + 0.1, idle_rate=20.0, reasons={"extint": 900})
    return found


def main():
    vm_text, native_text = sample("nvme-vf.txt"), sample("nvme-native-vf.txt")
    vm = bench.figures(vm_text, "nvme-vf.txt")
    native = bench.figures(native_text, "nvme-native-vf.txt")
    expect(sorted(vm) == sorted(bench.label(d, o) for d in bench.DEPTHS for o in bench.OPS),
           "labels %r" % sorted(vm))
    for name, x in vm.items():
        expect(bench.PER_IO[0] < x["cost_ns"] / x["ios"] < bench.PER_IO[1],
               "%s: %d ns per I/O" % (name, x["cost_ns"] / x["ios"]))

    # What the checks must refuse: data that differs, a merged or missing request, fewer in
    # flight than the depth, an I/O error, no end line, more interrupts than I/Os.
    first = vm_text.index("read=") + 5
    rejected(vm_text[:first] + "0" + vm_text[first + 1:], "read back differs")
    rejected(vm_text.replace("reads=0 writes=1024", "reads=0 writes=1023", 1), "1023 writes")
    rejected(vm_text.replace("peak=4", "peak=3", 1), "peak 3 at depth 4")
    rejected(vm_text.replace("errors=0", "errors=1", 1), "an I/O error")
    rejected(vm_text.replace("NVBENCH-END", ""), "no NVBENCH-END")
    rejected(vm_text.replace("irqs=1024", "irqs=2000", 1), "2000 interrupts for 1024 I/Os")

    with tempfile.TemporaryDirectory() as out:
        runs = [{"vf": with_exits(vm), "native-vf": native, "native-pf": native}
                for _ in range(3)]
        problems = bench.report(runs, out, False)
        expect(not problems, "in bounds, yet: %s" % problems)
        with open(os.path.join(out, "nvme.csv")) as f:
            lines = f.read().splitlines()
        expect(lines[0] == bench.HEADER, "header %r" % lines[0])
        expect(len(lines) == 1 + 3 * 4, "%d lines" % len(lines))
        expect(all(line.split(",")[5] == "1.000" for line in lines[1:]
                   if line.startswith("native-vf,")), "native-vf's ratio is not 1")
        expect(all(line.split(",")[6] == "1.000" for line in lines[1:]
                   if line.startswith("vf,")), "vf's exits per I/O")
        # Out of bounds: a VM 10 times native's cost, 50 exits per I/O.
        costly = copy.deepcopy(runs)
        for x in costly[1]["vf"].values():
            x["cost_ns"] *= 10
        expect(any("busy ratio" in p for p in bench.report(costly, out, False)),
               "a ratio of 10 passed")
        exiting = copy.deepcopy(runs)
        exiting[2]["vf"] = with_exits(vm, 50.0)
        expect(any("exits per I/O" in p for p in bench.report(exiting, out, False)),
               "50 exits per I/O passed")

    if failures:
        print("FAIL  scripts/bench-nvme.py: " + "; ".join(failures))
        return 1
    print("PASS  scripts/bench-nvme.py parses, checks and bounds saved NVBENCH lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
