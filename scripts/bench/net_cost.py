#!/usr/bin/env python3
"""The guest network's clock-independent figure (docs/passthrough.md, "Against native: CPU
cost"): build/bench/network-cost.csv from the transfers' CPU cost that guests/linux/init
prints (BULK-COST, NETBENCH-COST; its cost_report).

What a guest measures: its CPU's busy time, guest CLOCK_MONOTONIC minus the idle and iowait
sleep of /proc/timer_list, in ns, around a transfer (the sender from its connect to close,
the receiver from listening to EOF), and again around an empty window of the same length (a
usleep: the same sampling, one process started, the ticks over the same guest time). Cost =
busy - base_busy - empty_ns: the transfer's own CPU time (empty_ns: the time a spinning
application, guests/linux/pollnet.c in the busy-polled runs, spent in polls that found
nothing, i.e. waiting for the other end; 0 for nc). Every QEMU runs TCG with `-icount shift=0`,
so a guest ns of busy time is one instruction the emulated CPU executed while the guest was
not idle, whatever the host's load (idle time, which follows the host clock under icount's
sleep=on, is left out). For the VM that is the node's CPU: the guest's instructions and the
hypervisor's during the exits taken while the guest was busy (the VM's clock runs on through
them); not counted: the world switch itself (TCG's VMRUN is one instruction, #VMEXIT none)
and whatever the hardware would pay for it (TLB, caches), exits while the guest idles.

Inputs: build/bench/net-cost-bypass.json (scripts/bench-net-bypass.py) and
net-cost-bridge.json (scripts/bench-net.py), each {"runs": N, "records": [...]}, a record =
{path, direction (send|recv), repetition, cost (parse_lines' fields), packets,
exits_per_packet (None: not measured), against (the path it is compared with)}.

network-cost.csv: path,direction,packets,busy_ns_per_transfer,busy_ns_per_packet,busy_ratio,
busy_ratio_min,busy_ratio_max,exits_per_packet,runs,against. Medians over the repetitions;
busy_ratio = the path's cost / its `against` path's cost in the same repetition and
direction (the same bytes moved: a per-transfer ratio), median [min, max]; packets = the
measured guest's eth0 rx + tx over the transfer. The bounds (check) fail the bench.
"""

import json
import os
import re
import statistics
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "build", "bench")
INPUTS = ("net-cost-bypass.json", "net-cost-bridge.json")
HEADER = ("path,direction,packets,busy_ns_per_transfer,busy_ns_per_packet,busy_ratio,"
          "busy_ratio_min,busy_ratio_max,exits_per_packet,runs,against")
FIELDS = ("busy_ns", "window_ns", "base_busy_ns", "base_window_ns", "rx", "tx", "irqs")
LINE = re.compile(r"^(?:\[[\w-]+\] )?(BULK-COST|NETBENCH-COST) (.*)$", re.MULTILINE)

# Bounds. A packet of a 4 MiB TCP transfer costs the guest thousands of instructions (its
# TCP/IP stack, the copy, the driver), never under 500 or over a million; a path within
# (0.5, 4) times its native (the bridge measured 1.4); the peer, the same plain QEMU in both
# runs, within (0.67, 1.5); the baseline below the transfer's busy time.
PER_PACKET = (500, 1000000)
RATIO = (0.5, 4.0)
CONTROL_RATIO = (0.67, 1.5)


def parse_lines(text, name):
    """{key: fields} for every `name` line of a console (key: its run= or else its role=);
    fields: the integers of FIELDS, plus role, run (or None) and cost_ns = busy - base."""
    found = {}
    for kind, words in LINE.findall(text.replace("\r", "")):
        if kind != name:
            continue
        pairs = dict(w.split("=", 1) for w in words.split() if "=" in w)
        try:
            fields = {k: int(pairs[k]) for k in FIELDS}
        except (KeyError, ValueError):
            raise ValueError("net_cost: a malformed %s line: %s" % (name, words))
        fields.update(role=pairs.get("role"), run=pairs.get("run"))
        # A spinning application's empty polls are waiting, not work (guests/linux/pollnet.c).
        try:
            fields["empty_ns"] = int(pairs.get("empty_ns", "0"))
        except ValueError:
            raise ValueError("net_cost: a malformed %s line: %s" % (name, words))
        fields["cost_ns"] = fields["busy_ns"] - fields["base_busy_ns"] - fields["empty_ns"]
        fields["packets"] = fields["rx"] + fields["tx"]
        found[pairs.get("run") or pairs.get("role")] = fields
    return found


def record(path, direction, repetition, cost, against, exits_per_packet=None, packets=None):
    """One measured transfer (packets: the guest's eth0 rx + tx unless given)."""
    if cost is None:
        raise ValueError("net_cost: %s %s repetition %d has no cost line"
                         % (path, direction, repetition))
    return {"path": path, "direction": direction, "repetition": repetition, "cost": cost,
            "packets": cost["packets"] if packets is None else packets,
            "exits_per_packet": exits_per_packet, "against": against}


def aggregate(records):
    """The CSV's rows (dicts), in the order the paths first appear."""
    by_key = {}
    for r in records:
        by_key.setdefault((r["path"], r["direction"]), []).append(r)
    rows = []
    for (path, direction), mine in by_key.items():
        against = mine[0]["against"]
        reference = {r["repetition"]: r for r in by_key.get((against, direction), [])}
        ratios = [r["cost"]["cost_ns"] / reference[r["repetition"]]["cost"]["cost_ns"]
                  for r in mine if r["repetition"] in reference
                  and reference[r["repetition"]]["cost"]["cost_ns"] > 0]
        exits = [r["exits_per_packet"] for r in mine if r["exits_per_packet"] is not None]
        costs = [r["cost"]["cost_ns"] for r in mine]
        rows.append({
            "path": path, "direction": direction,
            "packets": statistics.median(r["packets"] for r in mine),
            "busy_ns_per_transfer": statistics.median(costs),
            "busy_ns_per_packet": statistics.median(r["cost"]["cost_ns"] / max(r["packets"], 1)
                                                    for r in mine),
            "busy_ratio": statistics.median(ratios) if ratios else None,
            "busy_ratio_min": min(ratios) if ratios else None,
            "busy_ratio_max": max(ratios) if ratios else None,
            "exits_per_packet": statistics.median(exits) if exits else None,
            "runs": len(mine), "against": against,
            "all_ratios": ratios, "records": mine})
    return rows


def check(rows, runs):
    """The bounds: a list of problems (empty: fine)."""
    problems = []
    for row in rows:
        name = "%s %s" % (row["path"], row["direction"])
        if row["runs"] != runs:
            problems.append("%s: %d runs, not %d" % (name, row["runs"], runs))
        if len(row["all_ratios"]) != row["runs"]:
            problems.append("%s: %d of %d runs have a %s run to compare with"
                            % (name, len(row["all_ratios"]), row["runs"], row["against"]))
        for r in row["records"]:
            c = r["cost"]
            where = "%s repetition %d" % (name, r["repetition"])
            if c["cost_ns"] <= 0:
                problems.append("%s: busy %d ns, not above its empty window's %d ns"
                                % (where, c["busy_ns"], c["base_busy_ns"]))
            elif not PER_PACKET[0] < c["cost_ns"] / max(r["packets"], 1) < PER_PACKET[1]:
                problems.append("%s: %.0f busy ns per packet (%d packets) outside (%d, %d)"
                                % (where, c["cost_ns"] / max(r["packets"], 1), r["packets"],
                                   PER_PACKET[0], PER_PACKET[1]))
            if not 0.5 < c["base_window_ns"] / max(c["window_ns"], 1) < 2:
                problems.append("%s: the empty window (%d ns) is not as long as the transfer's"
                                " (%d ns)" % (where, c["base_window_ns"], c["window_ns"]))
            e = r["exits_per_packet"]
            if e is not None and not (0 <= e < 1000):
                problems.append("%s: %.3f exits per packet outside [0, 1000)" % (where, e))
            if e is not None and e == 0 and not row["path"].startswith(("native", "peer")):
                problems.append("%s: no exits at all (an interrupt costs 2)" % where)
        low, high = CONTROL_RATIO if row["path"].startswith("peer") else RATIO
        for ratio in row["all_ratios"]:
            if row["path"] != row["against"] and not low < ratio < high:
                problems.append("%s: busy ratio %.3f to %s outside (%.2f, %.2f)"
                                % (name, ratio, row["against"], low, high))
    return problems


def cell(value, form):
    return "" if value is None else form % value


def csv_text(rows):
    lines = [HEADER]
    for row in rows:
        lines.append(",".join([
            row["path"], row["direction"], "%.0f" % row["packets"],
            "%.0f" % row["busy_ns_per_transfer"], "%.0f" % row["busy_ns_per_packet"],
            cell(row["busy_ratio"], "%.3f"), cell(row["busy_ratio_min"], "%.3f"),
            cell(row["busy_ratio_max"], "%.3f"), cell(row["exits_per_packet"], "%.3f"),
            "%d" % row["runs"], row["against"]]))
    return "\n".join(lines) + "\n"


def save(name, runs, records):
    """A bench script's records, for main()."""
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"runs": runs, "records": records}, f, indent=1, sort_keys=True)


def main(out=OUT):
    """network-cost.csv from the input files there are; exits non-zero on a bound."""
    rows, problems, used = [], [], []
    for name in INPUTS:
        path = os.path.join(out, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            data = json.load(f)
        mine = aggregate(data["records"])
        problems += check(mine, data["runs"])
        rows += mine
        used.append(name)
    if not rows:
        sys.exit("net_cost: none of %s in %s" % (", ".join(INPUTS), out))
    text = csv_text(rows)
    with open(os.path.join(out, "network-cost.csv"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    for row in rows:
        if row["all_ratios"] and row["path"] != row["against"]:
            print("net_cost: %s %s: busy %s of %s's, median [min-max] %.3f [%.3f-%.3f] over %d"
                  " runs" % (row["path"], row["direction"], "time", row["against"],
                             row["busy_ratio"], row["busy_ratio_min"], row["busy_ratio_max"],
                             row["runs"]))
    if problems:
        sys.exit("net_cost: network-cost.csv out of bounds (from %s): %s"
                 % (", ".join(used), "; ".join(problems)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else OUT)
