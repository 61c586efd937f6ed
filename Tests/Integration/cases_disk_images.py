"""Disk images through `peregrine node up` (docs/guest-io.md, "Disk images"): one AMD-V node
under QEMU, driven by the CLI. A 64 MiB store image holding a known pattern goes to a flat
ticker VM with `create` (its chunks of zeros left out, counted), `image save --as` brings
it back byte for byte while the VM runs (paused and resumed), `destroy` brings it back
over the store image, `destroy --discard-disk` does not, a VM that ended by itself keeps
its disk for `image save` until `destroy`, and an image larger than the node is refused by
the CLI (before anything is sent, from `nodes`' free memory) and by the node itself (a raw
transfer begin) with the reason. Free memory comes back. Then the measurement: a 64 MiB
ext4 image (mkfs.ext4, mostly empty) sent by `create` and read back by `image save`:
chunks sent and skipped, and the rates (wall time of an emulated node: not hardware).

The case boots no ISO of the harness's own (emulator "host"): the CLI starts the node.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

import harness
from harness import Case, DriverFailure
import cases_management

CLI = cases_management.CLI
TICKER = cases_management.TICKER
HELLO = cases_management.HELLO
ISOS = {}

MIB = 1 << 20
PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <memory unit="MiB">16</memory>
  <flat load="%s" entry="%s">%s</flat>
  <image size="%d">%s</image>
</profile>
"""


def pattern_image():
    """64 MiB: 1 MiB of counting bytes at 0, 4 KiB of 0xA5 at 10 MiB, 512 bytes at the last
    KiB; zeros elsewhere. No 1 KiB chunk with data in it is all zeros, so the transfer must
    send 1024 + 4 + 1 chunks and skip the other 64507."""
    image = bytearray(64 * MIB)
    image[0:MIB] = bytes((index % 251) + 1 for index in range(MIB))
    image[10 * MIB:10 * MIB + 4096] = b"\xa5" * 4096
    image[64 * MIB - 1024:64 * MIB - 512] = b"\x5a" * 512
    return bytes(image)


class DiskImageDriver:
    def __init__(self):
        self.home = None
        self.notes = []

    def qemu_args(self):
        return []

    def env(self):
        return {}

    def cli(self, *args, check=True, timeout=120):
        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check and proc.returncode != 0:
            raise DriverFailure("peregrine %s: exit %d: %s%s" % (" ".join(args), proc.returncode,
                                                                 out[-600:], err[-600:]))
        return proc.returncode, out, err

    def json(self, *args, timeout=120):
        return json.loads(self.cli(*args, "--json", timeout=timeout)[1])

    def free_memory(self):
        return self.json("nodes")["nodes"][0]["report"]["free_memory"]

    def image_path(self, name):
        return os.path.join(self.home, "images", name + ".img")

    def read_image(self, name):
        with open(self.image_path(name), "rb") as f:
            return f.read()

    def write_profile(self, vm, disk, size_mib=64, flat=None):
        path = os.path.join(self.home, vm + ".xml")
        if flat == "hello":
            load, entry, binary = "0x7c00", "0000:7c00", HELLO
        else:
            load, entry, binary = "0x1000", "0000:1000", TICKER
        with open(path, "w") as f:
            f.write(PROFILE % (vm, load, entry, binary, size_mib, disk))
        return path

    def machines(self):
        return {row["name"]: row["state"] for row in self.json("list")["machines"]}

    def wait_gone(self, vm, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if vm not in self.machines():
                return
            time.sleep(0.3)
        raise DriverFailure("VM %s is still listed after %d s" % (vm, timeout))

    def wait_free(self, expected, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.free_memory() == expected:
                return
            time.sleep(0.5)
        raise DriverFailure("free memory %d, expected %d back" % (self.free_memory(), expected))

    def run(self, console=None):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        self.home = tempfile.mkdtemp(prefix="peregrine-disks-")
        try:
            return self.drive()
        finally:
            self.cli("node", "down", check=False)
            # The node's serial log (its "control: one request held CPU 0" lines measure the
            # control loop's stalls, docs/control-protocol.md) outlives the temporary home.
            for log in glob.glob(os.path.join(self.home, "nodes", "*", "serial.log")):
                shutil.copy(log, os.path.join(harness.LOGS, "disk-images-node-serial.log"))
            shutil.rmtree(self.home, ignore_errors=True)

    def drive(self):
        notes = self.notes
        self.cli("node", "up", "--count", "1", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 timeout=200)
        before = self.free_memory()
        pattern = pattern_image()

        # The store image with the pattern, written into the store's sparse file.
        self.cli("image", "create", "pat", "--size", "64M")
        with open(self.image_path("pat"), "r+b") as f:
            for start, end in ((0, MIB), (10 * MIB, 10 * MIB + 4096), (64 * MIB - 1024, 64 * MIB - 512)):
                f.seek(start)
                f.write(pattern[start:end])

        start = time.time()
        created = self.json("create", self.write_profile("disky", "pat"))["created"][0]
        seconds = time.time() - start
        disk = created.get("disk") or {}
        if disk.get("sent_chunks") != 1029 or disk.get("skipped_chunks") != 65536 - 1029:
            raise DriverFailure("the pattern's transfer: %r (1029 chunks sent, 64507 skipped expected)" % disk)
        notes.append("create with the 64 MiB pattern disk: %d chunks sent, %d of zeros skipped, %.1f s"
                     % (disk["sent_chunks"], disk["skipped_chunks"], seconds))
        if self.machines().get("disky") != "running":
            raise DriverFailure("disky is not running: %r" % self.machines())

        # Read back while it runs: paused, read, resumed; byte for byte.
        start = time.time()
        saved = self.json("image", "save", "disky", "--as", "copy")
        seconds = time.time() - start
        if self.read_image("copy") != pattern:
            raise DriverFailure("the disk read back differs from what was sent")
        if saved["data_chunks"] != 1029:
            raise DriverFailure("image save read %r chunks of data, not 1029" % saved["data_chunks"])
        notes.append("image save --as copy: byte for byte, %d chunks of data in %d requests, %.1f s"
                     % (saved["data_chunks"], saved["requests"], seconds))
        if self.machines().get("disky") != "running":
            raise DriverFailure("disky was not resumed after the save: %r" % self.machines())
        allocated = os.stat(self.image_path("copy")).st_blocks * 512
        if allocated > 2 * MIB:
            raise DriverFailure("the saved image is not sparse: %d bytes allocated" % allocated)

        # destroy brings the disk back over the store image (which changed meanwhile).
        with open(self.image_path("pat"), "r+b") as f:
            f.write(b"\x00" * 4096)
        self.cli("destroy", "disky")
        if self.read_image("pat") != pattern:
            raise DriverFailure("destroy did not bring the disk back to image pat")
        self.wait_gone("disky")
        self.wait_free(before)
        notes.append("destroy brought the disk back to 'pat'; free memory back")

        # --discard-disk: the store image stays as it is.
        self.cli("create", self.write_profile("disky", "pat"))
        with open(self.image_path("pat"), "r+b") as f:
            f.write(b"\x00" * 4096)
        changed = self.read_image("pat")
        out = self.cli("destroy", "disky", "--discard-disk")[1]
        if "discarded" not in out or self.read_image("pat") != changed:
            raise DriverFailure("destroy --discard-disk changed the image: %s" % out)
        self.wait_gone("disky")
        self.wait_free(before)

        # A VM that ends by itself keeps its disk until destroy.
        self.cli("create", self.write_profile("hello", "copy", flat="hello"))
        self.wait_gone("hello")
        self.cli("image", "save", "hello", "--as", "ended")
        if self.read_image("ended") != pattern:
            raise DriverFailure("the ended VM's disk read back differs")
        if self.free_memory() > before - 64 * MIB:
            raise DriverFailure("the ended VM's disk is not held: %d free" % self.free_memory())
        self.cli("destroy", "hello")
        self.wait_free(before)
        notes.append("an ended VM's disk saved, then freed by destroy")

        # Larger than the node: refused by the CLI before anything is sent...
        self.cli("image", "create", "huge", "--size", "300M")
        code, _, err = self.cli("create", self.write_profile("huge", "huge", 300), check=False)
        if code != 77 or "300 MiB disk image" not in err or "nothing was created" not in err:
            raise DriverFailure("a disk larger than the node: exit %d: %s" % (code, err))
        # ...and by the node itself when a client sends it anyway.
        node = json.load(open(os.path.join(self.home, "nodes.json")))["nodes"][0]
        key = bytes.fromhex(open(os.path.join(self.home, "cluster.key")).read().strip())
        raw = cases_management.RawClient(node["hostPort"], key)
        digest = hashlib.sha256(b"").digest()
        answer = raw.request(cases_management.TRANSFER_BEGIN, cases_management.name_payload("huge.disk")
                             + struct.pack(">Q", 300 * MIB) + digest + b"\x01")
        if answer is None or answer[0] != 7:
            raise DriverFailure("the node took a 300 MiB transfer: %r" % (answer,))
        reason = answer[1][1:1 + answer[1][0]].decode()
        if not re.match(r"the image needs 300 MiB and the node has \d+ MiB free$", reason):
            raise DriverFailure("the node's reason: %r" % reason)
        notes.append("a 300 MiB disk refused by the CLI and by the node (%s)" % reason)
        if self.free_memory() != before:
            raise DriverFailure("a refusal changed free memory")

        # The measurement: a 64 MiB mostly-empty ext4 image.
        self.cli("image", "create", "fs", "--size", "64M", "--format", "ext4")
        fs = self.read_image("fs")
        start = time.time()
        created = self.json("create", self.write_profile("fsvm", "fs"))["created"][0]
        seconds = time.time() - start
        disk = created["disk"]
        data = disk["sent_chunks"] * 1024
        notes.append("ext4 64 MiB: %d chunks sent (%.1f MiB), %d skipped (%.1f%%); create %.1f s: "
                     "%.2f MB/s of data, %.1f MB/s of image"
                     % (disk["sent_chunks"], data / MIB, disk["skipped_chunks"],
                        100.0 * disk["skipped_chunks"] / (disk["sent_chunks"] + disk["skipped_chunks"]),
                        seconds, data / seconds / 1e6, 64 * MIB / seconds / 1e6))
        start = time.time()
        saved = self.json("image", "save", "fsvm", "--as", "fs-back")
        seconds = time.time() - start
        if self.read_image("fs-back") != fs:
            raise DriverFailure("the ext4 image read back differs")
        notes.append("ext4 64 MiB read back: %d chunks of data in %d requests, %.1f s (%.2f MB/s of data)"
                     % (saved["data_chunks"], saved["requests"], seconds,
                        saved["data_chunks"] * 1024 / seconds / 1e6))
        self.cli("destroy", "fsvm", "--discard-disk")
        self.wait_gone("fsvm")
        self.wait_free(before)
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-disk-images", "host", cases_management.ISO, [],
             timeout=600, driver=DiskImageDriver()),
    ]
