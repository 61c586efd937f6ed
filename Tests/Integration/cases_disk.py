"""A Linux guest's virtio-blk disk (docs/guest-io.md): an ext4 image made here with
mkfs.ext4 -d, carrying a known file, given to the VM as the boot module `disk vm=NAME` that
its profile names with disk=NAME. /init (guests/linux/init, `disktest=1`) loads virtio_blk,
mounts /dev/vda, checksums the known file, writes a new one, reads it back after a remount,
and checksums the whole device; with `disk_hash` on its command line the hypervisor prints
the SHA-256 of the image it holds when the VM is released, which must be the guest's.

Also: a profile naming an image the node does not have, an image larger than the node can
hold beside its VM, and a disk for a VM without a PCI bus are refused with the reason while
the other VMs run."""

import hashlib
import os
import re
import subprocess

from harness import ROOT, Case

DISK_DIR = "build/test/disk"
DISK = DISK_DIR + "/test.ext4"
BIG_DISK = DISK_DIR + "/big.img"
HELLO = "Peregrine virtio-blk test image\n" + "".join("%d\n" % i for i in range(1, 501))
HELLO_SHA256 = hashlib.sha256(HELLO.encode()).hexdigest()
# /init writes `seq 1 2000` to /written.txt.
WRITTEN_SHA256 = hashlib.sha256("".join("%d\n" % i for i in range(1, 2001)).encode()).hexdigest()
HELLO_GUEST = "build/guests/examples/hello.bin"

DISK_ISO = "build/test/linux-disk.iso"
REFUSED_ISO = "build/test/disk-refused.iso"
ISOS = {
    DISK_ISO: {"cmdline": "loglevel=info disk_hash", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M disk=test.ext4 -- "
        "console=ttyS0 cryptomgr.notests disktest=1",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
        DISK + ":disk vm=test.ext4",
    ]},
    REFUSED_ISO: {"cmdline": "loglevel=info", "modules": [
        HELLO_GUEST + ":vm name=nodisk load=0x7c00 entry=0000:7c00 apic=on disk=nosuch.img",
        HELLO_GUEST + ":vm name=toobig load=0x7c00 entry=0000:7c00 apic=on disk=big.img",
        HELLO_GUEST + ":vm name=nobus load=0x7c00 entry=0000:7c00 disk=big.img",
        HELLO_GUEST + ":vm name=fine load=0x7c00 entry=0000:7c00",
        BIG_DISK + ":disk vm=big.img",
    ]},
}


def prepare(selected):
    """The images: the ext4 one with hello.txt (mkfs.ext4 -d), and a sparse 112 MiB one."""
    if not any(case.iso in ISOS for case in selected):
        return
    os.makedirs(os.path.join(ROOT, DISK_DIR, "root"), exist_ok=True)
    with open(os.path.join(ROOT, DISK_DIR, "root", "hello.txt"), "w") as f:
        f.write(HELLO)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", os.path.join(ROOT, DISK_DIR, "root"),
                    os.path.join(ROOT, DISK), "32M"], check=True)
    with open(os.path.join(ROOT, BIG_DISK), "wb") as f:
        f.truncate(112 << 20)


def hashes_agree(output):
    """The guest's checksum of /dev/vda is the image the hypervisor held at the VM's end."""
    output = output.replace("\r", "")
    guest = re.findall(r"^\[linux\] DISK-SHA256 ([0-9a-f]{64})$", output, re.MULTILINE)
    host = re.findall(r"^\s*disk test\.ext4: sha256 ([0-9a-f]{64})$", output, re.MULTILINE)
    if len(guest) != 1 or len(host) != 1:
        return "expected one guest and one hypervisor checksum, found %d and %d" % (
            len(guest), len(host))
    if guest[0] != host[0]:
        return "the guest read %s from its disk, the hypervisor holds %s" % (guest[0], host[0])
    return None


FORBID = [r"PEREGRINE (PANIC|EXCEPTION)", r"(?i)Kernel panic", r"DISK-TEST-FAILED",
          r"^\[linux\] .*I/O error", r"EXT4-fs error"]


def disk_expect():
    return [
        r"vm linux: 256 MiB at guest-physical 0, 1 vCPU, Linux entered in 64-bit mode",
        r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
        r"^\[linux\] DISK-SECTORS 65536$",
        r"^\[linux\] DISK-SERIAL test\.ext4$",
        r"^\[linux\] DISK-HELLO %s$" % HELLO_SHA256,
        r"^\[linux\] DISK-WRITTEN %s$" % WRITTEN_SHA256,
        r"^\[linux\] DISK-SHA256 [0-9a-f]{64}$",
        r"^\[linux\] DISK-TEST-OK$",
        r"disk test\.ext4: 33554432 bytes, [1-9]\d* requests \([1-9]\d* reads, [1-9]\d* writes, "
        r"[1-9]\d* flushes, 1 get-id, .* 0 I/O errors \(0 out of range, 0 short headers\), "
        r"0 unanswerable, 0 queue faults",
        r"disk test\.ext4: sha256 [0-9a-f]{64}",
        r"summary: vm linux: powered off by the guest \(ACPI S5\)",
        r"^summary: physical frames free: (\d+) before the VMs, \1 after$"]


def cases():
    return [
        Case("qemu-svm-linux-virtio-blk-ext4", "qemu", DISK_ISO, disk_expect(), forbid=FORBID,
             verify=hashes_agree, timeout=300),
        # The same ISO on VT-x: Bochs boots Linux in minutes (150-300 s idle), so it runs in
        # `make test-slow`, beside the other Bochs Linux device cases.
        Case("bochs-vmx-linux-virtio-blk-ext4", "bochs", DISK_ISO, disk_expect(), forbid=FORBID,
             verify=hashes_agree, timeout=900, slow=True, env={"PEREGRINE_BOCHS_MEMORY": "512"}),
        Case("qemu-svm-disk-images-refused-with-the-reason", "qemu", REFUSED_ISO, [
            r"guest module 1 \(vm name=nodisk .*\) refused: the profile's disk= image is not on "
            r"the node",
            r"guest module 2 \(vm name=toobig .*\) refused: the disk image is larger than the "
            r"node's free memory",
            r"guest module 3 \(vm name=nobus .*\) refused: a disk is a PCI function: the VM "
            r"needs kind=linux, kind=multiboot or apic=on",
            r"summary: vm fine: stopped by the guest",
            r"^summary: physical frames free: (\d+) before the VMs, \1 after$"],
            forbid=[r"PEREGRINE (PANIC|EXCEPTION)"], env={"PEREGRINE_MEMORY": "192M"},
            timeout=180),
    ]
