#!/usr/bin/env python3
"""Host check of scripts/bench/round_trip.py (the round trips' parser, matching, bounds and
net-rtt.csv) on saved console lines (scripts/bench/testdata/round-trip-*.txt: a native
guest's PINGPONG lines and its peer's, 400 round trips each way under -icount, from the
bench's native run). Prints PASS or FAIL; exits non-zero on failure. Run by scripts/test.sh
among the script checks."""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from host_check import Failures, sample  # noqa: E402
import round_trip  # noqa: E402

failures = Failures()
expect = failures.expect


def main():
    asker, server = sample("round-trip-asker.txt"), sample("round-trip-server.txt")
    found = round_trip.figures(asker, server)
    expect(round_trip.check(found, 400, "sample") == [], "the sample is fine: %r"
           % round_trip.check(found, 400, "sample"))
    for mode in round_trip.MODES:
        got = found.get(mode, {})
        expect(got.get("rounds") == 400 and got.get("matched") == 400,
               "mode %s: 400 rounds matched: %r" % (mode, got))
        expect(got.get("round_trip_p10_ns", 0) <= got.get("round_trip_ns", 0)
               <= got.get("round_trip_p90_ns", 0), "mode %s: p10 <= median <= p90" % mode)
    # The sample's own figures (natively 72 + 75 us with interrupts, 13 + 14 polled).
    expect(140000 < found["i"]["round_trip_ns"] < 155000
           and 20000 < found["p"]["round_trip_ns"] < 35000, "the sample's medians: %r" % found)
    # The round trip is matched by seq: the median of the sums, not the sum of the medians.
    asked, served, _ = round_trip.parse(asker, server)
    sums = sorted(asked["i"][k][1] + served["i"][k] for k in asked["i"])
    expect(found["i"]["round_trip_ns"] in (sums[199], sums[200], (sums[199] + sums[200]) / 2),
           "the median of the per-seq sums")
    # A node's log prefixes a VM's lines with its name; a \r is ignored.
    prefixed = round_trip.figures("".join("[neta] " + line + "\r\n"
                                          for line in asker.splitlines()),
                                  "".join("[netb] " + line + "\n" for line in server.splitlines()))
    expect(prefixed.get("i") == found["i"], "[name] prefixes and \\r")
    # The server missed a seq (-1): one round unmatched, and said so.
    head, rest = server.split("path=", 1)
    missing = head + "path=-1," + rest.split(",", 1)[1]
    # Each mode's rounds come a few to a line: a line lost is rounds missing.
    lines = asker.splitlines()
    cut = round_trip.figures("\n".join(lines[:3] + lines[4:]), server)
    expect(cut["i"]["rounds"] == 388 and any(
        "388 rounds" in p for p in round_trip.check(cut, 400, "x")),
        "a lost line of rounds: %r" % cut["i"])
    got = round_trip.figures(asker, missing)
    expect(got["i"]["matched"] == 399 or got["p"]["matched"] == 399,
           "a seq the server did not see is unmatched: %r" % got)
    expect(any("399 with the server's path" in p for p in round_trip.check(got, 400, "x")),
           "an unmatched round is a problem")
    # A lost round trip, a mode missing, too few rounds.
    lost = round_trip.figures(asker + "PINGPONG-FAIL mode=p\n", server)
    expect(any("lost" in p for p in round_trip.check(lost, 400, "x")), "PINGPONG-FAIL")
    only_i = round_trip.figures("\n".join(l for l in asker.splitlines() if "mode=i" in l), server)
    expect(any("no round trips of mode p" in p for p in round_trip.check(only_i, 400, "x")),
           "a mode missing")
    expect(any("not 500" in p for p in round_trip.check(found, 500, "x")), "too few rounds")
    try:
        round_trip.parse("PINGPONG mode=i seq=5 rtt=1,2 path=1\n", "")
        failures.append("times and paths of different lengths were accepted")
    except ValueError:
        pass
    # net-rtt.csv: a row's ratio is against the reference's same repetition and mode. Both
    # ends moved (the bridge): the per-round sums' medians; the same server (the bypass
    # bench's peer): only the askers', with the server's paths of both runs pooled.
    half = {m: dict(found[m], round_trip_ns=found[m]["round_trip_ns"] / 2,
                    asker_ns=found[m]["asker_ns"] / 2,
                    server_paths=[p + 20000 for p in found[m]["server_paths"]])
            for m in "ip"}
    line = round_trip.row("bridge", "i", [found, found], "native-pair", [half, found],
                          [0.5, 1.5], same_server=False)
    cells = line.split(",")
    expect(cells[:3] == ["bridge", "i", "400"] and cells[8:15] == [
        "1.500", "1.000", "2.000", "1.000", "", "2", "native-pair"],
        "row, both ends moved: %s" % line)
    paths = sorted(found["i"]["server_paths"] + half["i"]["server_paths"])
    pooled = (paths[399] + paths[400]) / 2
    wanted = (found["i"]["asker_ns"] + pooled) / (found["i"]["asker_ns"] / 2 + pooled)
    expect(abs(round_trip.ratio(found, half, "i", same_server=True) - wanted) < 1e-9,
           "the same server: the askers' medians with the pooled server path")
    cells = round_trip.row("bypass", "i", [found], "native", [half]).split(",")
    expect(cells[8] == "%.3f" % wanted and cells[11] == "", "row, same server: %r" % cells)
    # init's interrupt counts: per datagram the asker sent (its rounds, 5 warm-ups, a hello).
    counted = round_trip.figures(asker + "PINGPONG-IRQS mode=i virtio=406 loc=3\n", server)
    expect(counted["i"]["virtio_irqs"] == 406 and "virtio_irqs" not in counted["p"]
           and round_trip.interrupts_per_round_trip(counted, "i") == 1.0
           and round_trip.interrupts_per_round_trip(counted, "p") is None,
           "PINGPONG-IRQS: %r" % counted["i"].get("virtio_irqs"))
    cells = round_trip.row("bypass", "i", [counted], "native", [counted]).split(",")
    expect(cells[12] == "1.000", "row: interrupts per round trip %r" % cells)
    with tempfile.TemporaryDirectory() as out:
        round_trip.save(out, ["bridge,i,1", "bridge,p,1"])
        round_trip.save(out, ["bypass,i,2"])
        round_trip.save(out, ["bridge,i,3"])
        with open(os.path.join(out, round_trip.FILE)) as f:
            lines = f.read().splitlines()
        expect(lines == [round_trip.HEADER, "bypass,i,2", "bridge,i,3"], "save: %r" % lines)
    if failures:
        print("FAIL  test_round_trip: " + "; ".join(failures))
        sys.exit(1)
    print("PASS  test_round_trip")


if __name__ == "__main__":
    main()
