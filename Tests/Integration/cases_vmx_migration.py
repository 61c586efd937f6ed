"""Live migration and checkpoint/restore on VT-x, and their refusal between vendors
(docs/migration.md, "VT-x"; issue 15), driven only by the CLI.

`bochs-vmx-migration-checkpoint`: `node up --backend vmx --count 2` boots two VT-x nodes
under Bochs (each an e1000 on its own slirp; the CLI relays memory between them). A flat
guest, guests/management/migration-dirtier.asm (16 MiB), walks 128 pages writing each
sweep's number into them and checking the previous sweep's is there, printing `sweep N`;
a write the EPT dirty log missed shows as `MISMATCH`. It is migrated node0 -> node1 with
--downtime-pages 4 (so the pre-copy takes several rounds of dirty pages): node1 goes on
from the sweep after node0's last, finishes a whole sweep (every page checked) and never
prints MISMATCH. Then it is checkpointed on node1 (left paused), destroyed, and restored on
node0, which goes on from the sweep after node1's last, again through a whole sweep. Total
time, downtime, pages per round and the checkpoint's sizes and times are the notes.

`bochs-vmx-migration-refused-between-vendors`: one AMD-V node under QEMU and one VT-x node
under Bochs in one cluster (two `node up`s with one key, their records joined: `node up`
itself keeps a cluster to one backend). A migration each way and a restore of each node's
checkpoint on the other are refused with the reason (exit 77) and nothing moves; `restore`
without --node picks the checkpoint's own vendor.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Case, DriverFailure
import cases_cluster
import cases_management

ROOT = cases_management.ROOT
CLI = cases_management.CLI
ISOS = {}
DIRTIER = os.path.join(ROOT, "build", "guests", "management", "migration-dirtier.bin")

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <type>peregrine</type>
  <memory unit="MiB">16</memory>
  <flat load="0x1000" entry="0000:1000">%s</flat>
</profile>
"""


def bochs_missing():
    if not shutil.which("bochs"):
        return "bochs is not installed"
    return None


class VMXDriver(cases_cluster.ClusterDriver):
    def sweeps(self, node, vm="dirtier"):
        text = self.serial(node)
        if re.search(r"^\[%s\] MISMATCH" % vm, text, re.MULTILINE):
            raise DriverFailure("%s: %s" % (node, re.search(r"^\[%s\] MISMATCH.*$" % vm, text,
                                                            re.MULTILINE).group(0)))
        return [int(n) for n in re.findall(r"^\[%s\] sweep (\d+)$" % vm, text, re.MULTILINE)]

    def wait_sweep(self, node, above, timeout, vm="dirtier"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = self.sweeps(node, vm)
            if seen and seen[-1] > above:
                return seen
            time.sleep(0.5)
        raise DriverFailure("%s's %s never passed sweep %d (last %r)" % (
            node, vm, above, self.sweeps(node, vm)[-3:]))

    def machines(self):
        return {row["name"]: row["node"] for row in self.json("list")["machines"]}

    def profile(self, name):
        path = os.path.join(self.home, name + ".xml")
        with open(path, "w") as f:
            f.write(PROFILE % (name, DIRTIER))
        return path


class VMXMigrationDriver(VMXDriver):
    def drive(self):
        notes = self.notes
        start = time.time()
        self.cli("node", "up", "--backend", "vmx", "--count", "2", "--cpus", "1", "--memory",
                 "128M", "--wait", "300", timeout=360)
        notes.append("node up --backend vmx --count 2: %.1f s" % (time.time() - start))
        self.cli("create", self.profile("dirtier"), "--node", "node0", timeout=60)
        before = self.wait_sweep("node0", 0, 120)[-1]

        start = time.time()
        report = json.loads(self.cli("migrate", "dirtier", "--to", "node1", "--downtime-pages",
                                     "4", "--max-rounds", "6", "--json", timeout=600)[1])
        rounds = report["pages_per_round"]
        notes.append("migrate: %.1f s wall; total %.2f s, downtime %.2f s, pages per round %r, "
                     "%d bytes of memory sent" % (
                         time.time() - start, report["total_seconds"],
                         report["downtime_seconds"], rounds, report["bytes_sent"]))
        # Round 0 carries the 128 pages the guest wrote and its own two; the later rounds
        # the pages it dirtied meanwhile, which only the EPT dirty log can name.
        if len(rounds) < 2 or rounds[0] < 128 or sum(rounds[1:]) <= 0:
            raise DriverFailure("pages per round: %r" % rounds)
        if not 0 < report["downtime_seconds"] < 15:
            raise DriverFailure("downtime %.2f s" % report["downtime_seconds"])
        if self.machines() != {"dirtier": "node1"}:
            raise DriverFailure("after migrate: %r" % self.machines())
        last0 = self.sweeps("node0")[-1]
        moved = self.wait_sweep("node1", 0, 120)
        if moved[0] != last0 + 1 or moved[0] <= before:
            raise DriverFailure("node1 sweeps from %d; node0's last was %d" % (moved[0], last0))
        # One whole sweep on node1: every page checked against what node0 had written.
        self.wait_sweep("node1", moved[0], 120)
        notes.append("node1 goes on at sweep %d (node0's last %d), a whole sweep checked" % (
            moved[0], last0))

        checkpoint = os.path.join(self.home, "dirtier.ckpt")
        start = time.time()
        report = json.loads(self.cli("checkpoint", "dirtier", checkpoint, "--leave-paused",
                                     "--json", timeout=300)[1])
        notes.append("checkpoint: %.1f s wall; file %d bytes (state %d, memory %d of %d in %d "
                     "runs), read %.1f s" % (
                         time.time() - start, report["file_bytes"], report["state_bytes"],
                         report["memory_data_bytes"], report["memory_bytes"],
                         report["memory_runs"], report["read_seconds"]))
        self.cli("destroy", "dirtier")
        last1 = self.sweeps("node1")[-1]
        printed0 = len(self.sweeps("node0"))
        start = time.time()
        report = json.loads(self.cli("restore", checkpoint, "--node", "node0", "--json",
                                     timeout=300)[1])
        notes.append("restore: %.1f s wall; create %.1f s, memory %d chunks in %.1f s, "
                     "state %.1f s" % (time.time() - start, report["create_seconds"],
                                       report["memory_chunks"], report["memory_seconds"],
                                       report["state_seconds"]))
        if self.machines() != {"dirtier": "node0"}:
            raise DriverFailure("after restore: %r" % self.machines())
        deadline = time.time() + 120
        while len(self.sweeps("node0")) < printed0 + 2 and time.time() < deadline:
            time.sleep(0.5)
        restored = self.sweeps("node0")[printed0:]
        if restored[:2] != [last1 + 1, last1 + 2]:
            raise DriverFailure("node0 sweeps %r after the restore; node1's last was %d" % (
                restored, last1))
        notes.append("restored on node0: sweeps %d, %d (node1's last %d)" % (
            restored[0], restored[1], last1))
        self.cli("destroy", "dirtier")
        self.cli("node", "down")
        return []


class VendorRefusalDriver(VMXDriver):
    def __init__(self):
        super().__init__()
        self.other = None

    def run(self, console=None):
        try:
            return super().run(console)
        finally:
            if self.other:
                env = dict(os.environ, PEREGRINE_HOME=self.other)
                subprocess.run([CLI, "node", "down"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
                shutil.rmtree(self.other, ignore_errors=True)

    def refused(self, what, args, words, expected):
        code, _, err = self.cli(*args, check=False)
        if code != 77:
            raise DriverFailure("%s: exit %d: %s" % (what, code, err))
        for word in words:
            if word not in err:
                raise DriverFailure("%s: %r not in %s" % (what, word, err))
        if self.machines() != expected:
            raise DriverFailure("%s moved something: %r" % (what, self.machines()))
        self.notes.append("%s refused: %s" % (what, err.strip().splitlines()[0]))

    def drive(self):
        notes = self.notes
        start = time.time()
        self.cli("node", "up", "--count", "1", "--cpus", "1", "--memory", "128M", "--wait",
                 "150", timeout=200)
        # The VT-x node: another state directory with the same key, its record joined to
        # this one's as node1.
        self.other = tempfile.mkdtemp(prefix="peregrine-vmx-")
        shutil.copy(os.path.join(self.home, "cluster.key"), self.other)
        os.chmod(os.path.join(self.other, "cluster.key"), 0o600)
        env = dict(os.environ, PEREGRINE_HOME=self.other)
        proc = subprocess.run([CLI, "node", "up", "--backend", "vmx", "--count", "1", "--cpus",
                               "1", "--memory", "128M", "--wait", "300"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=360)
        if proc.returncode != 0:
            raise DriverFailure("node up --backend vmx: %s" % proc.stderr.decode()[-400:])
        with open(os.path.join(self.other, "nodes.json")) as f:
            vmx = json.load(f)["nodes"][0]
        vmx["name"] = "node1"
        path = os.path.join(self.home, "nodes.json")
        with open(path) as f:
            table = json.load(f)
        table["nodes"].append(vmx)
        with open(path, "w") as f:
            json.dump(table, f)
        backends = {n["name"]: n["backend"] for n in self.json("nodes")["nodes"]}
        if backends != {"node0": "svm", "node1": "vmx"}:
            raise DriverFailure("nodes: %r" % backends)
        notes.append("one svm and one vmx node up: %.1f s" % (time.time() - start))

        self.cli("create", self.profile("amd"), "--node", "node0", timeout=60)
        self.cli("create", self.profile("intel"), "--node", "node1", timeout=60)
        expected = {"amd": "node0", "intel": "node1"}
        self.wait_sweep("node0", 0, 60, "amd")
        self.refused("AMD-V to VT-x", ("migrate", "amd", "--to", "node1"),
                     ["node0 is svm (AMD-V) and node1 is vmx (VT-x)", "nothing moved"], expected)
        self.refused("VT-x to AMD-V", ("migrate", "intel", "--to", "node0"),
                     ["node1 is vmx (VT-x) and node0 is svm (AMD-V)", "nothing moved"], expected)
        files = {}
        for vm in ("amd", "intel"):
            files[vm] = os.path.join(self.home, vm + ".ckpt")
            self.cli("checkpoint", vm, files[vm], timeout=300)
        self.refused("an AMD-V checkpoint on VT-x",
                     ("restore", files["amd"], "--node", "node1", "--name", "copy"),
                     ["taken on a svm (AMD) node and node1 is vmx (VT-x)", "nothing was sent"],
                     expected)
        self.refused("a VT-x checkpoint on AMD-V",
                     ("restore", files["intel"], "--node", "node0", "--name", "copy"),
                     ["taken on a vmx (Intel) node and node0 is svm (AMD-V)",
                      "nothing was sent"], expected)
        # Without --node: the checkpoint's own vendor's node.
        self.cli("restore", files["intel"], "--name", "copy", timeout=300)
        expected["copy"] = "node1"
        if self.machines() != expected:
            raise DriverFailure("restore without --node: %r" % self.machines())
        notes.append("restore of the VT-x checkpoint without --node: on node1")
        for vm in ("amd", "intel", "copy"):
            self.cli("destroy", vm)
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("bochs-vmx-migration-checkpoint", "host", cases_management.ISO, [],
             timeout=600, driver=VMXMigrationDriver(), skip=bochs_missing),
        Case("bochs-vmx-migration-refused-between-vendors", "host", cases_management.ISO, [],
             timeout=600, driver=VendorRefusalDriver(), skip=bochs_missing),
    ]
