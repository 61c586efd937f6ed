#!/usr/bin/env python3
"""Round-trip latency with the wire left out (docs/passthrough.md, "Round-trip latency, the
wire left out"): the figures of guests/linux/pingpong.c's lines.

The asker (the measured guest) prints, per mode (i: the reply wakes it by interrupt, p: it
busy-polls), every round's time and its own path (the round's time without the wait, which
its idle spinner filled: what the round cost the asker's CPU); the server (the peer) prints
its own path per round. A round trip without its wire = the asker's path + the server's for the same seq.
Under -icount shift=0 each of those is a count of emulated instructions (a VM's includes the
hypervisor's exits taken meanwhile), whatever the host's load.

figures(asker_text, server_text) -> {mode: {"rounds", "matched", "asker_ns", "server_ns",
"round_trip_ns" (medians), "round_trip_p10_ns", "round_trip_p90_ns", "server_paths",
"virtio_irqs", "timer_irqs" (the asker's over the rounds, when init printed them)}}; the
consoles may prefix a guest's lines with "[name] " (a node's log). check() returns the
problems.
"""

import os
import re
import statistics

PREFIX = r"^(?:\[[\w-]+\] )?"
ASKED = re.compile(PREFIX + r"PINGPONG mode=([ip]) seq=(\d+) rtt=([\d,]+) path=([-\d,]+)$",
                   re.MULTILINE)
SERVED = re.compile(PREFIX + r"PINGPONG-PATH mode=([ip]) seq=(\d+) path=([-\d,]+)$",
                    re.MULTILINE)
FAILED = re.compile(PREFIX + r"PINGPONG-FAIL mode=([ip])$", re.MULTILINE)
IRQS = re.compile(PREFIX + r"PINGPONG-IRQS mode=([ip]) virtio=(\d+) loc=(\d+)$", re.MULTILINE)
MODES = ("i", "p")
# A round trip between two Linux guests costs their CPUs tens of microseconds of emulated
# instructions (measured natively: 146 us with interrupts, 27 us polled); never under 1 us.
# Without -icount (the integration case) a path is host time: 1.4 ms with interrupts beside
# the bench, 8 ms at its 90th percentile; the bound only catches a broken measure.
ROUND_TRIP_NS = (1000, 100000000)


def numbers(text):
    return [int(x) for x in text.split(",")]


def parse(asker_text, server_text):
    """({mode: {seq: (rtt, asker path)}}, {mode: {seq: server path}}, failed modes) from the
    two consoles (each mode's lines carry a few consecutive seqs each)."""
    asker_text, server_text = asker_text.replace("\r", ""), server_text.replace("\r", "")
    asked, served = {}, {}
    for mode, first, rtts, paths in ASKED.findall(asker_text):
        rtts, paths = numbers(rtts), numbers(paths)
        if len(rtts) != len(paths):
            raise ValueError("round_trip: a PINGPONG line with %d times and %d paths"
                             % (len(rtts), len(paths)))
        asked.setdefault(mode, {}).update(
            {int(first) + i: pair for i, pair in enumerate(zip(rtts, paths))})
    for mode, first, paths in SERVED.findall(server_text):
        served.setdefault(mode, {}).update(
            {int(first) + i: p for i, p in enumerate(numbers(paths)) if p >= 0})
    return asked, served, FAILED.findall(asker_text)


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def figures(asker_text, server_text):
    asked, served, failed = parse(asker_text, server_text)
    result = {"failed": failed}
    for mode in MODES:
        rounds = asked.get(mode, {})
        theirs = served.get(mode, {})
        matched = [(path, theirs[seq]) for seq, (_, path) in sorted(rounds.items())
                   if seq in theirs]
        if not matched:
            continue
        totals = [mine + their for mine, their in matched]
        result[mode] = {
            "rounds": len(rounds), "matched": len(matched),
            "asker_ns": statistics.median(m for m, _ in matched),
            "server_ns": statistics.median(t for _, t in matched),
            "server_paths": [t for _, t in matched],
            "round_trip_ns": statistics.median(totals),
            "round_trip_p10_ns": quantile(totals, 0.1),
            "round_trip_p90_ns": quantile(totals, 0.9),
        }
    # The asker's virtio and local timer interrupts over each mode's rounds (init's count).
    for mode, virtio, loc in IRQS.findall(asker_text.replace("\r", "")):
        if mode in result:
            result[mode].update(virtio_irqs=int(virtio), timer_irqs=int(loc))
    return result


def check(found, rounds, where):
    """Problems: a mode missing or failed, rounds unmatched, figures out of bounds."""
    problems = ["%s: a round trip of mode %s was lost" % (where, m) for m in found["failed"]]
    for mode in MODES:
        got = found.get(mode)
        if not got:
            problems.append("%s: no round trips of mode %s" % (where, mode))
            continue
        if got["rounds"] != rounds or got["matched"] != rounds:
            problems.append("%s: mode %s has %d rounds, %d with the server's path, not %d"
                            % (where, mode, got["rounds"], got["matched"], rounds))
        if not ROUND_TRIP_NS[0] < got["round_trip_ns"] < ROUND_TRIP_NS[1]:
            problems.append("%s: mode %s round trip %.0f ns outside (%d, %d)"
                            % (where, mode, got["round_trip_ns"], *ROUND_TRIP_NS))
        if min(got["asker_ns"], got["server_ns"]) <= 0:
            problems.append("%s: mode %s has a path of no time (asker %.0f ns, server %.0f ns)"
                            % (where, mode, got["asker_ns"], got["server_ns"]))
    return problems


# build/bench/net-rtt.csv: one row per path and mode, medians over the repetitions; ratio =
# the path's round trip over its `against` path's in the same repetition (ratio()), median
# [min-max]; exits_per_round_trip = the VM's exits over the round trips net of its idle rate
# (the passed-through VM's; empty where not counted); interrupts_per_round_trip = the asker's
# virtio interrupts per datagram it sent (the round trips' own; ticks are not among them).
FILE = "net-rtt.csv"
HEADER = ("path,mode,rounds,asker_ns,server_ns,round_trip_ns,round_trip_p10_ns,"
          "round_trip_p90_ns,ratio,ratio_min,ratio_max,exits_per_round_trip,"
          "interrupts_per_round_trip,runs,against")
# The datagrams an asker sends besides its rounds: 5 warm-ups and the first hello.
EXTRA_TRIPS = 6


def interrupts_per_round_trip(found, mode):
    """The asker's virtio interrupts per datagram it sent in that mode, or None."""
    got = found.get(mode, {})
    if "virtio_irqs" not in got:
        return None
    return got["virtio_irqs"] / (got["rounds"] + EXTRA_TRIPS)


def ratio(measured, against, mode, same_server):
    """A round trip's ratio to another's in one repetition (figures() results). With
    `same_server` (the same plain guest served both: the bypass bench's peer) only the askers
    differ: the server's part is the median of its paths in both runs, in numerator and
    denominator alike. The peer's path is bimodal (its send takes 6 or 16 us, in a mix that
    follows the host's timing), so its median per run moved 10-15% between runs that
    differed only in load. Otherwise (the bridge: both ends moved) the medians of the
    per-round sums."""
    mine, theirs = measured[mode], against[mode]
    if not same_server:
        return mine["round_trip_ns"] / theirs["round_trip_ns"]
    server = statistics.median(mine["server_paths"] + theirs["server_paths"])
    return (mine["asker_ns"] + server) / (theirs["asker_ns"] + server)


def row(path, mode, measured, against_name, against, exits=None, same_server=True):
    """A CSV line: `measured` and `against` are lists of figures() results, one per
    repetition, in the same order; `exits` a list of exits per round trip or None."""
    mine = [m[mode] for m in measured]
    ratios = [ratio(m, a, mode, same_server) for m, a in zip(measured, against)]
    interrupts = [x for x in (interrupts_per_round_trip(m, mode) for m in measured)
                  if x is not None]
    return ",".join([
        path, mode, "%d" % statistics.median(m["rounds"] for m in mine),
        "%.0f" % statistics.median(m["asker_ns"] for m in mine),
        "%.0f" % statistics.median(m["server_ns"] for m in mine),
        "%.0f" % statistics.median(m["round_trip_ns"] for m in mine),
        "%.0f" % statistics.median(m["round_trip_p10_ns"] for m in mine),
        "%.0f" % statistics.median(m["round_trip_p90_ns"] for m in mine),
        "%.3f" % statistics.median(ratios), "%.3f" % min(ratios), "%.3f" % max(ratios),
        "%.3f" % statistics.median(exits) if exits else "",
        "%.3f" % statistics.median(interrupts) if interrupts else "",
        "%d" % len(mine), against_name])


def save(out, lines):
    """Writes `lines` into out/FILE in place of the rows of their paths, keeping the others
    (scripts/bench-net.py writes the bridge's, scripts/bench-net-bypass.py the rest)."""
    path = os.path.join(out, FILE)
    mine = {line.split(",", 1)[0] for line in lines}
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            kept = [line.rstrip("\n") for line in f
                    if line.strip() and line.rstrip("\n") != HEADER
                    and line.split(",", 1)[0] not in mine]
    with open(path, "w") as f:
        f.write("\n".join([HEADER] + kept + list(lines)) + "\n")
