#!/usr/bin/env python3
"""Host check of scripts/bench/net_cost.py (network-cost.csv's parser, aggregation and
bounds) on saved console lines (scripts/bench/testdata/net-cost-*.txt: a native guest's and
a VM's BULK-COST lines from `make bench`, docs/passthrough.md). Prints PASS or FAIL; exits
non-zero on failure. Run by scripts/test.sh among the script checks."""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from host_check import Failures, sample  # noqa: E402
import net_cost  # noqa: E402

failures = Failures()
expect = failures.expect


def scaled(cost, factor, base_factor=1.0):
    """A copy of a parsed cost line whose transfer costs `factor` times as much."""
    c = dict(cost)
    c["base_busy_ns"] = int(c["base_busy_ns"] * base_factor)
    c["busy_ns"] = c["base_busy_ns"] + int(cost["cost_ns"] * factor)
    c["cost_ns"] = c["busy_ns"] - c["base_busy_ns"]
    return c


def main():
    native = net_cost.parse_lines(sample("net-cost-native.txt"), "BULK-COST")
    vm = net_cost.parse_lines(sample("net-cost-vm.txt"), "BULK-COST")
    expect(sorted(native) == ["1", "2", "3", "4"], "native runs: %s" % sorted(native))
    expect(sorted(vm) == ["1", "2", "3", "4"], "VM runs (a \\r and no prefix): %s" % sorted(vm))
    one = native["1"]
    expect(one["cost_ns"] == one["busy_ns"] - one["base_busy_ns"] and one["cost_ns"] > 0,
           "cost = busy - base: %r" % one)
    expect(one["packets"] == one["rx"] + one["tx"] and one["role"] == "send"
           and native["3"]["role"] == "recv", "packets and roles: %r" % one)
    expect(net_cost.parse_lines("[neta] NETBENCH-COST role=send busy_ns=5 window_ns=9"
                                " base_busy_ns=2 base_window_ns=9 rx=1 tx=2 irqs=0 cpus=1\n",
                                "NETBENCH-COST")["send"]["cost_ns"] == 3,
           "a node console's [vm] prefix")
    spun = net_cost.parse_lines("BULK-COST run=2 role=send empty_ns=40 busy_ns=100 window_ns=100"
                                " base_busy_ns=10 base_window_ns=100 rx=1 tx=2 irqs=0 cpus=1\n",
                                "BULK-COST")["2"]
    expect(spun["cost_ns"] == 50 and spun["empty_ns"] == 40,
           "a spinning run's empty polls are left out: %r" % spun)
    try:
        net_cost.parse_lines("BULK-COST run=2 role=send empty_ns=lots busy_ns=100 window_ns=100"
                             " base_busy_ns=10 base_window_ns=100 rx=1 tx=2 irqs=0 cpus=1\n",
                             "BULK-COST")
        failures.append("a malformed empty_ns was taken")
    except ValueError:
        pass
    try:
        net_cost.parse_lines("BULK-COST run=1 role=send busy_ns=x\n", "BULK-COST")
        failures.append("a malformed line was taken")
    except ValueError:
        pass

    # Three repetitions: the VM's saved runs at 1.00, 1.10 and 1.30 times their native's cost.
    records = []
    for rep, factor in ((1, 1.0), (2, 1.1), (3, 1.3)):
        for run, direction in (("1", "send"), ("3", "recv")):
            base = native[run]
            records.append(net_cost.record("native-interrupts", direction, rep, base,
                                           "native-interrupts", 0))
            records.append(net_cost.record("bypass-interrupts", direction, rep,
                                           scaled(base, factor), "native-interrupts", 0.3))
    rows = {(r["path"], r["direction"]): r for r in net_cost.aggregate(records)}
    send = rows["bypass-interrupts", "send"]
    expect(abs(send["busy_ratio"] - 1.1) < 0.001 and abs(send["busy_ratio_min"] - 1.0) < 0.001
           and abs(send["busy_ratio_max"] - 1.3) < 0.001 and send["runs"] == 3,
           "median [min-max] ratio: %r" % {k: send[k] for k in ("busy_ratio", "busy_ratio_min",
                                                                "busy_ratio_max", "runs")})
    expect(rows["native-interrupts", "recv"]["busy_ratio"] == 1.0, "native against itself")
    expect(net_cost.check(list(rows.values()), 3) == [],
           "bounds on sane data: %s" % net_cost.check(list(rows.values()), 3))
    text = net_cost.csv_text(list(rows.values()))
    expect(text.splitlines()[0] == net_cost.HEADER, "header: %s" % text.splitlines()[0])
    expect(any(line.startswith("bypass-interrupts,send,") and ",1.100,1.000,1.300,0.300,3,"
               "native-interrupts" in line for line in text.splitlines()), "row: %s" % text)

    # The bounds fail: a transfer cheaper than its empty window, a ratio of 10, a run missing,
    # a VM without exits.
    bad = records + [net_cost.record("bypass-polled", "send", 1, scaled(native["2"], 10),
                                     "native-interrupts", 0.0)]
    bad[1] = dict(bad[1], cost=scaled(native["1"], -0.1))
    problems = net_cost.check(net_cost.aggregate(bad), 3)
    for needle in ("not above its empty window", "bypass-polled send: busy ratio", "1 runs, not 3",
                   "no exits at all"):
        expect(any(needle in p for p in problems), "no %r among %s" % (needle, problems))

    # main(): writes the CSV and exits non-zero on an out-of-bounds input.
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, "net-cost-bypass.json"), "w") as f:
            json.dump({"runs": 3, "records": records}, f)
        ok = subprocess.run([sys.executable, os.path.join(HERE, "net_cost.py"), out],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        expect(ok.returncode == 0 and os.path.exists(os.path.join(out, "network-cost.csv")),
               "main on sane data: %d %s" % (ok.returncode, ok.stdout[-300:]))
        with open(os.path.join(out, "net-cost-bypass.json"), "w") as f:
            json.dump({"runs": 3, "records": bad}, f)
        failed = subprocess.run([sys.executable, os.path.join(HERE, "net_cost.py"), out],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        expect(failed.returncode != 0 and b"out of bounds" in failed.stdout,
               "main on absurd data: %d" % failed.returncode)

    if failures:
        for what in failures:
            print("      " + what)
        print("FAIL  scripts/bench/net_cost.py (network-cost.csv)")
        return 1
    print("PASS  scripts/bench/net_cost.py parses BULK-COST lines, aggregates median [min-max]"
          " busy ratios and fails absurd values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
