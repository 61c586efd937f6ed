"""A Linux guest's disk outlives the VM (issue 13; docs/guest-io.md, "A disk that outlives
its VM"): one AMD-V node by `peregrine node up`, a store image made by `image create data
--size 64M --format ext4`, and Debian's kernel with the test initramfs whose /init (from
guests/linux/init, appended to build/linux's initramfs as a second cpio archive in the same
gzip stream, so the case runs the /init of this tree) mounts /dev/vda as ext4.

1. `persist=write persist_token=T1`: the guest writes /persist.txt, syncs, unmounts and
   powers off; `destroy` brings the disk back (`image list` shows it modified) and
   debugfs reads "peregrine persists T1" out of the store's file on the host.
2. A new VM with `persist=check persist_token=T1` finds that line.
3. `persist=write persist_token=T2`, then `destroy --discard-disk`: the store keeps T1
   (debugfs reads it). The next VM's disk is the store's file, sent by the CLI at create (the
   node keeps no copy), so step 2 already shows a VM reads what debugfs reads: a fourth boot
   to read T1 again would prove nothing new, and is not made.

Each VM's end report (exits, disk requests) from the node's serial log goes to the notes.
While the check VM runs (its /init idles 8 s after loading virtio_blk: `netbench=0
netwindow=8`, before the check), `peregrine status VM` must show its disk: requests (the
partition scan's reads) above zero, bytes read, doorbell exits, as text and JSON (protocol
version 5's I/O page).
The case boots no ISO of the harness's own (emulator "host"): the CLI starts the node.
"""

import gzip
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time

from harness import ROOT, Case, DriverFailure
import cases_management
from cases_disk_images import DiskImageDriver

ISOS = {}
INITRAMFS = os.path.join(ROOT, "build", "test", "persist", "initramfs.cpio.gz")
PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <memory unit="MiB">128</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 cryptomgr.notests no_timer_check persist=%s persist_token=%s%s</cmdline>
  <image size="64">data</image>
</profile>
"""


def initramfs_with_this_init():
    """build/linux's initramfs followed by a newc archive holding this tree's /init: the
    kernel unpacks both, and the later /init replaces the earlier one."""
    work = tempfile.mkdtemp(prefix="peregrine-persist-init-")
    try:
        shutil.copy(os.path.join(ROOT, "guests", "linux", "init"), os.path.join(work, "init"))
        os.chmod(os.path.join(work, "init"), 0o755)
        archive = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                                 input=b"init\n", cwd=work, stdout=subprocess.PIPE,
                                 check=True).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(INITRAMFS), exist_ok=True)
    # One gzip stream of both archives: GRUB's gunzip (a boot module) reads only the first.
    with open(os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz"), "rb") as base:
        data = gzip.decompress(base.read())
    with open(INITRAMFS, "wb") as f:
        f.write(gzip.compress(data + archive, 6))


class DiskPersistenceDriver(DiskImageDriver):
    def serial(self):
        with open(os.path.join(self.home, "nodes", "node0", "serial.log"), "rb") as f:
            return f.read().decode(errors="replace").replace("\r", "")

    def disk_status(self, vm, patience=90):
        """Polls `status VM` until its disk line counts requests; checks the JSON agrees."""
        deadline = time.time() + patience
        text = ""
        while time.time() < deadline:
            code, text, _ = self.cli("status", vm, check=False)
            found = re.search(r"^  disk    (\d+) requests: (\d+) reads, (\d+) writes, (\d+) flushes,"
                              r" (\d+) other; (\d+) bytes read, (\d+) written; (\d+) I/O errors\n"
                              r"\s+(\d+) doorbell exits \(([\d.]+) per request\), ([\d.]+) VM exits per"
                              r" request since start$", text, re.MULTILINE)
            if code == 0 and found and int(found.group(1)) > 0:
                requests, reads, bytes_read, doorbells = (int(found.group(i)) for i in (1, 2, 6, 9))
                if reads == 0 or bytes_read == 0 or doorbells == 0:
                    raise DriverFailure("status %s: a disk with requests but no reads, bytes or "
                                        "doorbells: %s" % (vm, text))
                disk = self.json("status", vm)["status"].get("disk") or {}
                if disk.get("reads", 0) < reads or disk.get("bytes_read", 0) < bytes_read:
                    raise DriverFailure("status %s --json: disk %r, text said %d reads" % (vm, disk, reads))
                self.notes.append("status %s while it ran: %s" % (vm, found.group(0).replace("\n", " /")))
                return
            time.sleep(0.5)
        raise DriverFailure("status %s never showed disk requests: %s" % (vm, text[-800:]))

    def run_guest(self, vm, mode, token, timeout=150, idle=0):
        """Creates VM `vm` with persist=MODE, waits for its end, returns its console lines
        and its end report (the serial log from its create on). With `idle`, /init idles that
        many seconds after loading its modules (before persist) and the VM's disk status is
        checked meanwhile."""
        path = os.path.join(self.home, vm + ".xml")
        extra = " netbench=0 netwindow=%d" % idle if idle else ""
        with open(path, "w") as f:
            f.write(PROFILE % (vm, os.path.join(ROOT, "build", "linux", "vmlinuz"), INITRAMFS,
                               mode, token, extra))
        offset = len(self.serial())
        start = time.time()
        self.cli("create", path, timeout=180)
        if idle:
            self.disk_status(vm)
        self.wait_gone(vm, timeout=timeout)
        time.sleep(0.5)
        log = self.serial()[offset:]
        self.times.append(time.time() - start)
        lines = re.findall(r"^\[%s\] (PERSIST-.*)$" % re.escape(vm), log, re.MULTILINE)
        # The VM's end report: its own exits (the first total), its disk's requests, its end.
        report = [re.search(pattern, log, re.MULTILINE) for pattern in (
            r"^\s*exits: (\d+) in", r"^\s*disk %s\.disk: \d+ bytes, (.*)$" % re.escape(vm),
            r"^summary: vm %s: (.*)$" % re.escape(vm))]
        if None in report:
            raise DriverFailure("%s: no end report in the node's log: %s" % (vm, log[-1500:]))
        self.notes.append("%s (%s %s): %s; %s exits; disk %s; %s" % (
            vm, mode, token, lines, report[0].group(1), report[1].group(1), report[2].group(1)))
        if re.search(r"(?i)^\[%s\] .*(kernel panic|EXT4-fs error|I/O error|PERSIST-FAILED)"
                     % re.escape(vm), log, re.MULTILINE):
            raise DriverFailure("%s: %s" % (vm, log[-1500:]))
        return lines, log

    def modified(self):
        return {row["name"]: row.get("modified") for row in self.json("image", "list")["images"]}

    def host_copy(self):
        proc = subprocess.run(["debugfs", "-R", "cat /persist.txt", self.image_path("data")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        return proc.stdout.decode().strip()

    def drive(self):
        self.times = []
        initramfs_with_this_init()
        first, second = secrets.token_hex(8), secrets.token_hex(8)
        began = time.time()
        self.cli("node", "up", "--count", "1", "--cpus", "1", "--memory", "512M", "--wait", "150",
                 timeout=200)
        before = self.free_memory()
        self.cli("image", "create", "data", "--size", "64M", "--format", "ext4")
        fresh = self.modified()["data"]

        lines, _ = self.run_guest("pw1", "write", first)
        if lines != ["PERSIST-WRITTEN " + first]:
            raise DriverFailure("the write VM printed %r" % lines)
        time.sleep(1.1)  # the store's times have whole seconds
        self.cli("destroy", "pw1")
        self.wait_free(before)
        modified = self.modified()["data"]
        if modified == fresh:
            raise DriverFailure("image list: data not modified by destroy (%r)" % modified)
        if self.host_copy() != "peregrine persists " + first:
            raise DriverFailure("debugfs read %r from the store's data.img" % self.host_copy())
        self.notes.append("destroy brought the disk back: image list modified %s -> %s; debugfs "
                          "reads the token" % (fresh, modified))

        lines, _ = self.run_guest("pc1", "check", first, idle=8)
        if lines != ["PERSIST-READ peregrine persists " + first, "PERSIST-CHECK found"]:
            raise DriverFailure("the check VM printed %r" % lines)
        self.cli("destroy", "pc1")
        self.wait_free(before)

        # The negative: a write discarded by destroy --discard-disk is not there next time.
        lines, _ = self.run_guest("pw2", "write", second)
        if lines != ["PERSIST-WRITTEN " + second]:
            raise DriverFailure("the second write VM printed %r" % lines)
        out = self.cli("destroy", "pw2", "--discard-disk")[1]
        if "discarded" not in out:
            raise DriverFailure("destroy --discard-disk said %r" % out)
        self.wait_free(before)
        if self.host_copy() != "peregrine persists " + first:
            raise DriverFailure("after --discard-disk the store holds %r" % self.host_copy())
        self.notes.append("create to end of each VM: %s s; whole case %.0f s (emulated node)" % (
            ", ".join("%.0f" % t for t in self.times), time.time() - began))
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-linux-disk-persists", "host", cases_management.ISO, [],
             timeout=420, driver=DiskPersistenceDriver()),
    ]
