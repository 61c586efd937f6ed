#!/usr/bin/env python3
"""Live migration and checkpoint/restore figures (issue 15, "Measure"; docs/migration.md and
docs/checkpoint.md), driven by the CLI against two AMD-V nodes that `peregrine node up
--count 2` boots under QEMU TCG:

- migration: Debian's kernel with /init's `counter=1` (idle: a line a second) and with
  `counter=1 dirty=M` (busy: M MiB of the page cache rewritten over and over), each of the
  sizes in BENCH_SIZES (MiB), moved node0 -> node1 by `peregrine migrate --json`: total
  time, downtime, rounds, pages sent (every round's pages), bytes of memory sent;
- checkpoint and restore of the idle guest of each size: `checkpoint --json` (file size,
  read time, time paused) and `restore --json` (memory chunks, memory time, total).

All are wall-clock times of emulated nodes on a shared host: how the software behaves
under TCG, not what hardware would do (the BACKEND column says so). Written to
build/bench/migration.csv (guest,size_mib,load,total_s,downtime_s,rounds,pages_sent,
bytes_sent,backend) and build/bench/checkpoint.csv (guest,size_mib,file_bytes,
memory_data_bytes,checkpoint_s,paused_s,restore_s,restore_memory_s,memory_chunks,backend),
and as build/bench/costs.txt, a costs file `peregrine ft simulate --costs` takes
(docs/fault-tolerance.md, "Costs file"): the idle migrations, their downtimes, the time a
checkpoint paused the VM and the restores, by size.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("BENCH_CLI", os.path.join(ROOT, "build", "bin", "peregrine"))
# No commas: it is one CSV field.
BACKEND = "qemu-tcg-svm (emulated nodes; wall time; not hardware)"
# 64 MiB is too small for Debian's cloud kernel under Peregrine's Linux loader (it writes
# past the end of a 64 MiB VM while it boots), so the small size is 96 MiB.
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "96,128").split(",")]
DIRTY_MIB = int(os.environ.get("BENCH_DIRTY_MIB", "8"))
COUNT = re.compile(r"^\[counter\] COUNT (\d+) ", re.MULTILINE)

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <type>peregrine</type>
  <memory unit="MiB">%d</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 no_timer_check quiet counter=1%s</cmdline>
</profile>
"""


class Bench:
    def __init__(self, home):
        self.home = home

    def cli(self, *args, timeout=900):
        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise SystemExit("peregrine %s: exit %d: %s" % (" ".join(args), proc.returncode,
                                                            proc.stderr.decode()[-400:]))
        return proc.stdout.decode()

    def counts(self, node):
        path = os.path.join(self.home, "nodes", node, "serial.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            return [int(n) for n in COUNT.findall(f.read().replace("\r", ""))]

    def wait_count(self, node, above, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            counts = self.counts(node)
            if counts and counts[-1] > above:
                return counts[-1]
            time.sleep(0.5)
        raise SystemExit("%s's counter never passed %d" % (node, above))

    def create(self, name, mib, extra, node="node0"):
        path = os.path.join(self.home, name + ".xml")
        with open(path, "w") as f:
            f.write(PROFILE % (name, mib, os.path.join(ROOT, "build", "linux", "vmlinuz"),
                               os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz"), extra))
        self.cli("create", path, "--node", node)
        # A few counts in: the guest has booted and (busy) its copy loop runs.
        self.wait_count(node, 3)

    def migrate(self, size, load):
        extra = " dirty=%d" % DIRTY_MIB if load == "busy" else ""
        self.create("counter", size, extra)
        report = json.loads(self.cli("migrate", "counter", "--to", "node1", "--json"))
        last = self.counts("node0")[-1]
        if self.wait_count("node1", 0, 60) <= 1:
            raise SystemExit("the migrated counter restarted (node0's last count %d)" % last)
        self.cli("destroy", "counter")
        rounds = report["pages_per_round"]
        return [
            "linux-counter", size, load, "%.2f" % report["total_seconds"],
            "%.3f" % report["downtime_seconds"], len(rounds), sum(rounds), report["bytes_sent"],
            BACKEND
        ]

    def checkpoint(self, size):
        self.create("counter", size, "")
        path = os.path.join(self.home, "counter.ckpt")
        saved = json.loads(self.cli("checkpoint", "counter", path, "--json"))
        self.cli("destroy", "counter")
        restored = json.loads(self.cli("restore", path, "--node", "node1", "--json"))
        self.wait_count("node1", 0, 60)
        self.cli("destroy", "counter")
        os.unlink(path)
        return [
            "linux-counter", size, saved["file_bytes"], saved["memory_data_bytes"],
            "%.2f" % saved["total_seconds"], "%.2f" % (saved["paused_seconds"] or 0),
            "%.2f" % restored["total_seconds"], "%.2f" % restored["memory_seconds"],
            restored["memory_chunks"], BACKEND
        ]


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header] + rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row[:-1], widths)))
    print("(%s) -> %s" % (BACKEND, os.path.relpath(path, ROOT)))


def write_costs(path, migrations, checkpoints):
    """The simulator's costs from this run (rows as written to the CSV files)."""
    lines = ["# Measured by scripts/bench-migration.py (make bench): two QEMU TCG nodes,",
             "# Debian's kernel with /init counter=1 (idle), wall time on a shared host",
             "# (emulated nodes, not hardware). docs/fault-tolerance.md, \"Costs file\"."]
    for row in migrations:
        if row[2] == "idle":
            lines.append("migration   %dMiB  %s" % (row[1], row[3]))
            lines.append("downtime    %dMiB  %s" % (row[1], row[4]))
    for row in checkpoints:
        lines.append("checkpoint  %dMiB  %s" % (row[1], row[5]))
        lines.append("restore     %dMiB  %s" % (row[1], row[6]))
    lines.append("restart     60    # assumed: the job's relaunch by its scheduler, not measured")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("costs for ft simulate -> %s" % os.path.relpath(path, ROOT))


def main():
    if not os.path.exists(CLI):
        raise SystemExit("%s is missing: make cli" % CLI)
    out = os.path.join(ROOT, "build", "bench")
    os.makedirs(out, exist_ok=True)
    home = tempfile.mkdtemp(prefix="peregrine-bench-migration-")
    bench = Bench(home)
    migrations, checkpoints = [], []
    try:
        bench.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "384M", "--wait",
                  "150", timeout=300)
        for size in SIZES:
            for load in ("idle", "busy"):
                migrations.append(bench.migrate(size, load))
                print("migration", migrations[-1][:-1], flush=True)
            checkpoints.append(bench.checkpoint(size))
            print("checkpoint", checkpoints[-1][:-1], flush=True)
    finally:
        subprocess.run([CLI, "node", "down"], env=dict(os.environ, PEREGRINE_HOME=home),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
    write(os.path.join(out, "migration.csv"),
          ["guest", "size_mib", "load", "total_s", "downtime_s", "rounds", "pages_sent",
           "bytes_sent", "backend"], migrations)
    write(os.path.join(out, "checkpoint.csv"),
          ["guest", "size_mib", "file_bytes", "memory_data_bytes", "checkpoint_s", "paused_s",
           "restore_s", "restore_memory_s", "memory_chunks", "backend"], checkpoints)
    write_costs(os.path.join(out, "costs.txt"), migrations, checkpoints)


if __name__ == "__main__":
    main()
