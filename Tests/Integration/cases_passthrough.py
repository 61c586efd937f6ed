"""PCI passthrough, the node's side (docs/passthrough.md): one AMD-V node under QEMU q35 with
an Intel VT-d unit, started by `peregrine node up` with, through `PEREGRINE_NODE_QEMU_ARGS`,
the machine switched to q35, `-device intel-iommu,intremap=on`, and after it an extra modern
virtio-net (`iommu_platform=on`) in PCI slot 0x11 on a multicast segment of its own; driven by
the CLI. (The management NIC at 00:02.0 and the data NIC are realized before the IOMMU; their
pass-through context entries are written before translation goes on, and the node keeps
answering with translation on.)

- A flat VM whose profile has `<passthrough pci="0000:00:11.0"/>` is created: the node gives
  it an IOMMU domain over its RAM with the function's context entry and turns translation
  on; `status` shows the function as its own, and the node still answers.
- Refused, each with its reason, and nothing created: a second VM naming the same function
  (owned by the first), a function the node doesn't have (00:1e.0), the node's management
  NIC (00:02.0), its data NIC (00:10.0), the host bridge (00:00.0), a bad address (the CLI's
  validation, before anything is sent).
- Destroying the owner quiesces the function on the node (bus mastering off, then, as QEMU's
  virtio-net on the root bus has no FLR, a virtio reset through its common configuration
  that reads back 0) and it can be given to a new VM.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Case, DriverFailure
import cases_management
from cases_net import free_udp_port

CLI = cases_management.CLI
TICKER = cases_management.TICKER
ISOS = {}

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <memory unit="MiB">16</memory>
  <flat load="0x1000" entry="0000:1000">%s</flat>
  <passthrough pci="%s"/>
</profile>
"""


class PassthroughClaimDriver:
    def __init__(self):
        self.home = None
        self.notes = []

    def qemu_args(self):
        return []

    def env(self):
        return {}

    def cli(self, *args, timeout=120, extra_env=None):
        env = dict(os.environ, PEREGRINE_HOME=self.home, **(extra_env or {}))
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def ok(self, *args, **kwargs):
        code, out, err = self.cli(*args, **kwargs)
        if code != 0:
            raise DriverFailure("peregrine %s: exit %d: %s%s" % (" ".join(args), code, out[-600:],
                                                                 err[-600:]))
        return out

    def profile(self, vm, function):
        path = os.path.join(self.home, "%s.xml" % vm)
        with open(path, "w") as f:
            f.write(PROFILE % (vm, TICKER, function))
        return path

    def serial(self):
        path = os.path.join(self.home, "nodes", "node0", "serial.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().replace("\r", "")

    def wait_serial(self, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.serial(), re.MULTILINE):
                return
            time.sleep(0.5)
        raise DriverFailure("the node's console lacks %r" % pattern)

    def refused(self, vm, function, reason):
        code, out, err = self.cli("create", self.profile(vm, function))
        if code == 0:
            raise DriverFailure("%s with %s was created; expected a refusal" % (vm, function))
        if reason not in out + err:
            raise DriverFailure("%s with %s: refusal without %r: %s%s" % (vm, function, reason,
                                                                         out[-400:], err[-400:]))
        self.notes.append("%s refused: %s" % (function, reason))

    def run(self, console=None):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        self.home = tempfile.mkdtemp(prefix="peregrine-passthrough-")
        try:
            return self.drive()
        finally:
            self.cli("node", "down")
            shutil.rmtree(self.home, ignore_errors=True)

    def drive(self):
        port = free_udp_port()
        extra = ("-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on "
                 "-netdev socket,id=pt0,mcast=230.0.0.1:%d,localaddr=127.0.0.1 -device "
                 "virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=pt0,addr=0x11,"
                 "mac=52:54:00:77:00:11" % port)
        self.ok("node", "up", "--count", "1", "--cpus", "1", "--memory", "256M", "--wait", "150",
                timeout=200, extra_env={"PEREGRINE_NODE_QEMU_ARGS": extra})
        self.wait_serial(r"^\[info \] pci 00:11\.0 1af4:1041 class 02\.00")
        self.wait_serial(r"^\[info \] iommu: root table set")

        self.ok("create", self.profile("owner", "0000:00:11.0"))
        self.wait_serial(r"^\[info \] passthrough: vm owner: IOMMU domain \d+ over its RAM for pci"
                         r" 0000:00:11\.0, \d+ table frames, translation on")
        status = self.ok("status", "owner")
        if "passthrough  pci 0000:00:11.0 (owned by this VM)" not in status:
            raise DriverFailure("status of the owner lacks its function: %s" % status)
        self.notes.append("owner created with 0000:00:11.0; status shows it")

        self.refused("second", "0000:00:11.0", "0000:00:11.0: already owned by VM owner")
        self.refused("second", "0000:00:1e.0", "0000:00:1e.0: no such PCI function on this node")
        self.refused("second", "0000:00:02.0", "0000:00:02.0: is the node's management NIC")
        self.refused("second", "0000:00:10.0",
                     "0000:00:10.0: is the node's data NIC (the guest switch's uplink)")
        self.refused("second", "0000:00:00.0", "0000:00:00.0: is the platform's host or ISA bridge")
        self.refused("second", "0000:00:20.0", "is not a PCI address such as 0000:00:05.0")
        listed = self.ok("list")
        if "second" in listed:
            raise DriverFailure("a refused VM is listed: %s" % listed)

        self.ok("destroy", "owner")
        self.wait_serial(r"^\[info \] passthrough: pci 0000:00:11\.0 quiet and free \(bus mastering"
                         r" off, virtio device reset\)")
        deadline = time.time() + 30
        while True:
            code, out, err = self.cli("create", self.profile("next", "0000:00:11.0"))
            if code == 0:
                break
            if time.time() > deadline or "being reset" not in out + err:
                raise DriverFailure("the function was not given to a new VM: %s%s" % (out, err))
            time.sleep(1)
        if "passthrough  pci 0000:00:11.0" not in self.ok("status", "next"):
            raise DriverFailure("the new owner's status lacks the function")
        self.notes.append("after destroy: quiesced and given to a new VM")
        self.ok("destroy", "next")
        text = self.serial()
        for line in re.findall(r"^\[info \] (?:passthrough|iommu): .*$", text, re.MULTILINE):
            self.notes.append(line)
        for pattern in [r"PEREGRINE (PANIC|EXCEPTION)", r"IOMMU fault"]:
            if re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("the node's console has %r" % pattern)
        return self.notes


def cases():
    return [
        Case("qemu-svm-passthrough-claims", "host", cases_management.ISO, [], timeout=600,
             driver=PassthroughClaimDriver()),
    ]
