"""A virtual cluster over two nodes, driven only by the `peregrine` CLI (docs/cli.md,
"Placing a cluster"): `node up --count 2` boots two AMD-V nodes under QEMU (one CPU each),
`create` refuses a cluster whose third VM fits no node without creating anything, then
places a two-VM cluster profile of flat ticker guests, `list --json` shows them on
different nodes, each node's console shows its VM ticking, `destroy CLUSTER` ends both, and
`nodes --json` shows each node's free memory back where it was; then `node down`.

The case boots no ISO of the harness's own (emulator "host"): the CLI starts the nodes.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Case, DriverFailure
import cases_management

ROOT = cases_management.ROOT
CLI = cases_management.CLI
TICKER = cases_management.TICKER

# The management ISO (built by run.py) brings the node kernel, build/peregrine.elf, with it.
ISOS = {}

CLUSTER = """<?xml version="1.0"?>
<cluster>
  <name>pair</name>
  <vm file="ticker.xml" name="tick-a"/>
  <vm file="ticker.xml" name="tick-b"/>
</cluster>
"""


class ClusterDriver:
    def __init__(self):
        self.home = None
        self.notes = []

    def qemu_args(self):
        return []

    def env(self):
        return {}

    def cli(self, *args, check=True, timeout=60):
        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check and proc.returncode != 0:
            raise DriverFailure("peregrine %s: exit %d: %s%s" % (" ".join(args), proc.returncode,
                                                                 out[-400:], err[-400:]))
        return proc.returncode, out, err

    def json(self, *args):
        return json.loads(self.cli(*args, "--json")[1])

    def free_memory(self):
        nodes = self.json("nodes")["nodes"]
        return {node["name"]: (node.get("report") or {}).get("free_memory") for node in nodes}

    def serial(self, node):
        path = os.path.join(self.home, "nodes", node, "serial.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().replace("\r", "")

    def wait_serial(self, node, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.serial(node), re.MULTILINE):
                return
            time.sleep(0.5)
        raise DriverFailure("%s's console never showed %r" % (node, pattern))

    def run(self, console=None):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        self.home = tempfile.mkdtemp(prefix="peregrine-cluster-")
        try:
            return self.drive()
        finally:
            self.cli("node", "down", check=False)
            shutil.rmtree(self.home, ignore_errors=True)

    def drive(self):
        notes = self.notes
        start = time.time()
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 timeout=200)
        notes.append("node up --count 2: %.1f s" % (time.time() - start))
        before = self.free_memory()
        if sorted(before) != ["node0", "node1"]:
            raise DriverFailure("nodes: %r" % before)
        with open(os.path.join(self.home, "ticker.xml"), "w") as f:
            f.write(cases_management.PROFILE % ("ticker", TICKER))
        cluster = os.path.join(self.home, "pair.xml")
        with open(cluster, "w") as f:
            f.write(CLUSTER)

        # A cluster whose last VM fits no node: refused before anything is created.
        big = os.path.join(self.home, "big.xml")
        with open(big, "w") as f:
            f.write(CLUSTER.replace('name="tick-b"/>', 'name="tick-b"/>\n  <vm><profile><name>huge</name>'
                                    '<memory unit="MiB">250</memory><flat>%s</flat></profile></vm>' % TICKER))
        code, _, err = self.cli("create", big, check=False)
        if code != 77 or "no node can take VM 'huge'" not in err or "nothing was created" not in err:
            raise DriverFailure("a cluster that does not fit: exit %d: %s" % (code, err))
        if self.json("list")["machines"] or self.free_memory() != before:
            raise DriverFailure("the refused cluster changed something")

        start = time.time()
        created = self.json("create", cluster)["created"]
        notes.append("create of the 2-VM cluster: %.1f s" % (time.time() - start))
        placed = {vm["name"]: vm["node"] for vm in created}
        rows = {row["name"]: row["node"] for row in self.json("list")["machines"]}
        if rows != placed or sorted(rows.values()) != ["node0", "node1"]:
            raise DriverFailure("not one VM per node: created %r, listed %r" % (placed, rows))
        for name, node in rows.items():
            self.wait_serial(node, r"^\[%s\] tick 2$" % name, 30)
            if re.search(r"^\[%s\]" % name, self.serial("node1" if node == "node0" else "node0"),
                         re.MULTILINE):
                raise DriverFailure("%s printed on the other node too" % name)

        # A name the cluster already uses: refused before anything is created.
        code, _, err = self.cli("create", cluster, check=False)
        if code != 77 or "tick-a" not in err:
            raise DriverFailure("a second create of the cluster: exit %d: %s" % (code, err))

        out = self.cli("destroy", "pair")[1]
        if "cluster pair: 2 of 2 VM(s) destroyed" not in out:
            raise DriverFailure("destroy pair: %s" % out)
        deadline = time.time() + 20
        while self.json("list")["machines"] and time.time() < deadline:
            time.sleep(0.5)
        after = self.free_memory()
        if after != before:
            raise DriverFailure("free memory before %r, after %r" % (before, after))
        notes.append("free memory back on both nodes: %r" % after)
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-cluster-two-nodes", "host", cases_management.ISO, [],
             timeout=240, driver=ClusterDriver()),
    ]
