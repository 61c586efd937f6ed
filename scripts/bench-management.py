#!/usr/bin/env python3
"""The management plane's figures (issue 11, "Measure"), with the release-built CLI against
one AMD-V node that `peregrine node up` boots under QEMU TCG:

- create-to-first-console-line: `peregrine create` of Debian's kernel (profiles like
  profiles/linux.xml) until its first line appears on the node's console;
- control round trip: `node info` requests, one at a time, sealed and checked as the
  protocol says (Tests/Integration/cases_management.py's RawClient): median, p90, p99;
- image transfer: a 4 MiB flat image sent by `peregrine create` (its `--json` report's
  bytes and seconds), in MB/s.

All are wall-clock times of an emulated node on a loaded host: they say how the software
behaves under TCG, not what hardware would do. Written to build/bench/management.csv
(metric,value,unit,backend) and printed as a table.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import shutil
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Integration"))
import cases_management  # noqa: E402

CLI = os.path.join(ROOT, "build", "bin", "peregrine")
# No commas: it is one CSV field.
BACKEND = "qemu-tcg-svm (emulated node; wall time; not hardware)"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
IMAGE_MIB = int(os.environ.get("BENCH_IMAGE_MIB", "4"))

LINUX = """<?xml version="1.0"?>
<profile>
  <name>linux</name>
  <memory unit="MiB">256</memory>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 earlyprintk=serial,ttyS0,115200 no_timer_check</cmdline>
</profile>
"""


def cli(home, *args, timeout=300):
    proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, PEREGRINE_HOME=home), timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit("peregrine %s: exit %d: %s" % (" ".join(args), proc.returncode,
                                                         proc.stderr.decode()[-600:]))
    return proc.stdout.decode()


def number(value):
    return str(value) if isinstance(value, int) else "%.3f" % value


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    home = tempfile.mkdtemp(prefix="peregrine-bench-")
    rows = []
    try:
        cli(home, "node", "up", "--count", "1", "--memory", "1G", "--cpus", "2", "--wait", "240")
        nodes = json.loads(cli(home, "nodes", "--json"))["nodes"]
        port = nodes[0]["port"]
        with open(os.path.join(home, "cluster.key")) as f:
            key = bytes.fromhex(f.read().strip())
        serial = os.path.join(home, "nodes", "node0", "serial.log")

        # Control round trip.
        raw = cases_management.RawClient(port, key)
        times = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            answer = raw.request(cases_management.NODE_INFO)
            times.append((time.perf_counter() - start) * 1e3)
            if answer is None or answer[0] != 0:
                raise SystemExit("node info: %r" % (answer,))
        rows += [("control_round_trip_median", statistics.median(times), "ms"),
                 ("control_round_trip_p90", percentile(times, 0.90), "ms"),
                 ("control_round_trip_p99", percentile(times, 0.99), "ms"),
                 ("control_round_trip_requests", REQUESTS, "count")]

        # Image transfer by the CLI: a flat ticker padded to IMAGE_MIB.
        with open(cases_management.TICKER, "rb") as f:
            ticker = f.read()
        image = os.path.join(home, "padded.bin")
        with open(image, "wb") as f:
            f.write(ticker + bytes(IMAGE_MIB * 1024 * 1024 - len(ticker)))
        profile = os.path.join(home, "padded.xml")
        with open(profile, "w") as f:
            f.write(cases_management.PROFILE % ("padded", image))
        report = json.loads(cli(home, "create", profile, "--json"))["created"][0]
        rows.append(("image_transfer_throughput",
                     report["sent_bytes"] / report["seconds"] / 1e6, "MB/s"))
        rows.append(("image_transfer_bytes", report["sent_bytes"], "bytes"))
        cli(home, "destroy", "padded")

        # Create to the first console line of Debian's kernel.
        linux = os.path.join(home, "linux.xml")
        with open(linux, "w") as f:
            f.write(LINUX % (os.path.join(ROOT, "build", "linux", "vmlinuz"),
                             os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz")))
        start = time.time()
        report = json.loads(cli(home, "create", linux, "--json"))["created"][0]
        created = time.time()
        first = None
        while time.time() - start < 300:
            with open(serial, errors="replace") as f:
                if re.search(r"^\[linux\] ", f.read(), re.MULTILINE):
                    first = time.time()
                    break
            time.sleep(0.05)
        if first is None:
            raise SystemExit("Linux printed nothing within 300 s (%s)" % serial)
        rows += [("create_to_first_console_line", first - start, "s"),
                 ("create_linux_transfer", created - start, "s"),
                 ("create_linux_transfer_throughput",
                  report["sent_bytes"] / report["seconds"] / 1e6, "MB/s")]
        cli(home, "destroy", "linux")
    finally:
        subprocess.run([CLI, "node", "down"], env=dict(os.environ, PEREGRINE_HOME=home),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(home, ignore_errors=True)

    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "management.csv"), "w") as f:
        f.write("metric,value,unit,backend\n")
        for metric, value, unit in rows:
            f.write("%s,%s,%s,%s\n" % (metric, number(value), unit, BACKEND))
    print("== Management plane (%s)" % BACKEND)
    for metric, value, unit in rows:
        print("%-36s %12s %s" % (metric, number(value), unit))
    print("written: build/bench/management.csv")


if __name__ == "__main__":
    main()
