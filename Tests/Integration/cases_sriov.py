"""SR-IOV passthrough of NVMe virtual functions, the node's side (docs/passthrough.md,
"SR-IOV"): one AMD-V node under QEMU q35 with an Intel VT-d unit and QEMU 7.2's emulated NVMe
controller in slot 4 with SR-IOV (`sriov_max_vfs=2`, 8 flexible queue and 4 flexible
interrupt resources, in an `nvme-subsys`), started by `peregrine node up` with the extra
arguments in `PEREGRINE_NODE_QEMU_ARGS` as cases_passthrough.py starts its node.

- At boot the node finds the PF's SR-IOV capability through ECAM, places the VF BARs in the
  PCI hole, enables 2 VFs (00:04.1, 00:04.2) and brings both secondary controllers online
  through the PF's admin queue; each VF's CSTS goes from 0x2 (CFS, unusable) to 0x0.
- Two VMs each claim one VF: each gets its own IOMMU domain (the VFs have their own
  requester IDs); `status` shows each VM's VF.
- Refused with their reasons: a third VM naming a VF already owned, the PF itself (reserved
  for the node: it manages the VFs), and a VF number the PF does not have (00:04.3).
- Destroying each VM resets its VF with a function-level reset; a VF is then given again.
"""

import os
import re
import shutil
import tempfile
import time

from harness import Case, DriverFailure
import cases_management
from cases_passthrough import PassthroughClaimDriver

ISOS = {}

NVME = ("-drive file=%s,if=none,id=nvm,format=raw -device nvme-subsys,id=subsys0 "
        "-device nvme,serial=deadbeef,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=8,"
        "sriov_vi_flexible=4,max_ioqpairs=10,msix_qsize=5,addr=0x04 "
        "-device nvme-ns,drive=nvm,nsid=1,shared=false")


class SRIOVDriver(PassthroughClaimDriver):
    def run(self, console=None):
        if not os.path.exists(cases_management.CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug"
                                % cases_management.CLI)
        self.home = tempfile.mkdtemp(prefix="peregrine-sriov-")
        try:
            return self.drive()
        finally:
            self.cli("node", "down")
            # The node's console, kept for a failure's diagnosis.
            for name in ("serial", "emulator"):
                try:
                    shutil.copy(os.path.join(self.home, "nodes", "node0", name + ".log"),
                                os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                             "test-logs",
                                             "qemu-svm-sriov-nvme-claims-%s.log" % name))
                except OSError:
                    pass
            shutil.rmtree(self.home, ignore_errors=True)

    def created(self, vm, function):
        started = time.time()
        self.ok("create", self.profile(vm, function))
        self.wait_serial(r"^\[info \] passthrough: vm %s: IOMMU domain \d+ over its RAM for pci"
                         r" %s, \d+ table frames, translation on" % (vm, re.escape(function)))
        status = self.ok("status", vm)
        if "passthrough  pci %s (owned by this VM)" % function not in status:
            raise DriverFailure("status of %s lacks %s: %s" % (vm, function, status))
        self.notes.append("%s owns %s (created in %.1f s); status shows it"
                          % (vm, function, time.time() - started))

    def reset(self, vm, function, destroy=True):
        if destroy:
            self.ok("destroy", vm)
        self.wait_serial(r"^\[info \] passthrough: pci %s quiet and free \(bus mastering off,"
                         r" function-level reset\)" % re.escape(function))
        self.notes.append("%s ended: %s reset by FLR and freed" % (vm, function))

    def drive(self):
        image = os.path.join(self.home, "nvm.img")
        with open(image, "wb") as f:
            f.truncate(16 << 20)
        extra = ("-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on " +
                 NVME % image)
        started = time.time()
        self.ok("node", "up", "--count", "1", "--cpus", "1", "--memory", "256M", "--wait", "150",
                timeout=200, extra_env={"PEREGRINE_NODE_QEMU_ARGS": extra})
        self.wait_serial(r"^\[info \] pci sriov 0000:00:04\.0: 2 VFs at 0000:00:04\.1,"
                         r" 0000:00:04\.2 \(VF 1b36:")
        for vf, scid in (("0000:00:04.1", 1), ("0000:00:04.2", 2)):
            self.wait_serial(r"^\[info \] pci sriov %s: NVMe secondary controller %d online with"
                             r" \d+ VQ and \d+ VI; VF CSTS 0x2 before, 0x0 after"
                             % (re.escape(vf), scid))
        self.wait_serial(r"^\[info \] pci sriov 0000:00:04\.0: VFs ready \d+ ms after the"
                         r" capability was read")
        self.wait_serial(r"^\[info \] iommu: root table set")
        self.notes.append("node up with 2 NVMe VFs online in %.1f s" % (time.time() - started))

        self.created("vma", "0000:00:04.1")
        self.created("vmb", "0000:00:04.2")
        self.refused("vmc", "0000:00:04.1", "0000:00:04.1: already owned by VM vma")
        self.refused("vmc", "0000:00:04.0",
                     "0000:00:04.0: is an SR-IOV physical function (the node manages its VFs)")
        self.refused("vmc", "0000:00:04.3", "0000:00:04.3: no such PCI function on this node")
        if "vmc" in self.ok("list"):
            raise DriverFailure("a refused VM is listed")

        # Both ended before either reset is awaited: on this one-CPU node an ended VM is
        # released (and its VF reset) only when CPU 0's scheduler loop next comes round,
        # which a VM still running there can put off (docs/passthrough.md, "SR-IOV").
        self.ok("destroy", "vma")
        self.ok("destroy", "vmb")
        self.reset("vma", "0000:00:04.1", destroy=False)
        self.reset("vmb", "0000:00:04.2", destroy=False)
        for vf in ("0000:00:04.1", "0000:00:04.2"):
            self.wait_serial(r"^\[info \] pci sriov %s: after its reset, VF CSTS 0x0 \(secondary"
                             r" controller still online\)" % re.escape(vf))
        deadline = time.time() + 30
        while True:
            code, out, err = self.cli("create", self.profile("again", "0000:00:04.2"))
            if code == 0:
                break
            if time.time() > deadline or "being reset" not in out + err:
                raise DriverFailure("the VF was not given to a new VM: %s%s" % (out, err))
            time.sleep(1)
        if "passthrough  pci 0000:00:04.2" not in self.ok("status", "again"):
            raise DriverFailure("the new owner's status lacks the VF")
        self.notes.append("after its reset 0000:00:04.2 went to a new VM")
        self.reset("again", "0000:00:04.2")

        text = self.serial()
        for line in re.findall(r"^\[\w+ *\] (?:pci sriov|passthrough|iommu: domain).*$", text,
                               re.MULTILINE):
            self.notes.append(line)
        for pattern in [r"PEREGRINE (PANIC|EXCEPTION)", r"IOMMU fault", r"^\[warn.*pci sriov"]:
            if re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("the node's console has %r" % pattern)
        return self.notes


def cases():
    return [
        Case("qemu-svm-sriov-nvme-claims", "host", cases_management.ISO, [], timeout=600,
             driver=SRIOVDriver()),
    ]
