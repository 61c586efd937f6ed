"""Checkpoint and restore (docs/checkpoint.md, issue 15 part 2), driven only by the CLI:
`node up --count 2` boots two AMD-V nodes under QEMU; Debian's kernel with /init's
`counter=1` (a line `COUNT n uptime` every second) is created on node0 and checkpointed to
a file while it runs (paused, read, unpaused: node0's counter goes on); then destroyed; a
corrupt and a truncated copy of the file are refused with the reason and nothing is created
anywhere; the file is restored on node1, whose console goes on counting from the number
after the last one node0 printed before the checkpoint (no reset to 1), with the guest's
uptime continuing from where it stood (no gap bigger than one counter period: guest time
stands still while the VM is paused and moved). The sizes and times are the case's notes
(and docs/checkpoint.md's numbers).
"""

import json
import os
import time

from harness import Case, DriverFailure
import cases_cluster
import cases_management

ROOT = cases_management.ROOT
ISOS = {}

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>counter</name>
  <type>peregrine</type>
  <memory unit="MiB">96</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 cryptomgr.notests init_on_free=1 no_timer_check quiet counter=1</cmdline>
</profile>
"""

class CheckpointDriver(cases_cluster.CounterDriver):
    def machines(self):
        return self.json("list")["machines"]

    def drive(self):
        notes = self.notes
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "384M", "--wait", "150",
                 timeout=200)
        profile = os.path.join(self.home, "counter.xml")
        with open(profile, "w") as f:
            f.write(PROFILE % (os.path.join(ROOT, "build", "linux", "vmlinuz"),
                               os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz")))
        self.cli("create", profile, "--node", "node0", timeout=300)
        self.wait_count("node0", 4, 240)

        checkpoint = os.path.join(self.home, "counter.ckpt")
        start = time.time()
        report = json.loads(self.cli("checkpoint", "counter", checkpoint, "--json", timeout=600)[1])
        notes.append("checkpoint: %.1f s wall; file %d bytes (state %d, memory %d of %d in %d runs);"
                     " read %.1f s, VM paused %.1f s" % (
                         time.time() - start, report["file_bytes"], report["state_bytes"],
                         report["memory_data_bytes"], report["memory_bytes"], report["memory_runs"],
                         report["read_seconds"], report["paused_seconds"] or -1))
        if os.path.getsize(checkpoint) != report["file_bytes"]:
            raise DriverFailure("the file is not the size reported: %r" % report)
        # Unpaused: node0's counter goes on.
        before = self.counts("node0")[-1][0]
        self.wait_count("node0", before, 30)
        node0 = self.counts("node0")
        self.cli("destroy", "counter")

        # Damaged copies: refused with the reason, nothing created anywhere.
        with open(checkpoint, "rb") as f:
            data = f.read()
        corrupt = os.path.join(self.home, "corrupt.ckpt")
        damaged = bytearray(data)
        damaged[len(data) // 2] ^= 0x10
        with open(corrupt, "wb") as f:
            f.write(bytes(damaged))
        code, _, err = self.cli("restore", corrupt, "--node", "node1", check=False)
        if code != 66 or "corrupt" not in err or "nothing was sent" not in err:
            raise DriverFailure("a corrupt checkpoint: exit %d: %s" % (code, err))
        notes.append("corrupt copy: %s" % err.strip().splitlines()[0])
        truncated = os.path.join(self.home, "truncated.ckpt")
        with open(truncated, "wb") as f:
            f.write(data[:len(data) - 1000])
        code, _, err = self.cli("restore", truncated, "--node", "node1", check=False)
        if code != 66 or "truncated" not in err:
            raise DriverFailure("a truncated checkpoint: exit %d: %s" % (code, err))
        if self.machines():
            raise DriverFailure("a refused restore left VMs: %r" % self.machines())

        start = time.time()
        report = json.loads(self.cli("restore", checkpoint, "--node", "node1", "--json",
                                     timeout=900)[1])
        notes.append("restore: %.1f s wall; create %.1f s, memory %d chunks in %.1f s, state %.1f s"
                     % (time.time() - start, report["create_seconds"], report["memory_chunks"],
                        report["memory_seconds"], report["state_seconds"]))
        rows = {row["name"]: row["node"] for row in self.machines()}
        if rows != {"counter": "node1"}:
            raise DriverFailure("after restore: %r" % rows)
        restored = self.wait_count("node1", 0, 60)
        first, uptime = restored[0]
        previous = [up for n, up in node0 if n == first - 1]
        if first <= 1 or not previous:
            raise DriverFailure("node1 counts from %d; node0 printed %r" % (first, node0[-5:]))
        # The guest's clock continued: one counter period (plus the time `sleep` overran by)
        # after the line before it, not the wall time the checkpoint and restore took.
        gap = uptime - previous[-1]
        if not 0 < gap < 3:
            raise DriverFailure("guest uptime jumped by %.2f s across the restore" % gap)
        self.wait_count("node1", first + 2, 30)
        notes.append("node1 continues at COUNT %d (node0 printed %d at uptime %.2f, node1 %d at %.2f)"
                     % (first, first - 1, previous[-1], first, uptime))
        self.cli("destroy", "counter")
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-checkpoint-restore", "host", cases_management.ISO, [],
             timeout=1500, driver=CheckpointDriver()),
    ]
