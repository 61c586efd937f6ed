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
import subprocess
import tempfile
import time

from harness import Case, DriverFailure
import cases_management
from cases_passthrough import PassthroughClaimDriver
from cases_passthrough_net import KERNEL, INITRD, LiveConsole, PassthroughLinuxNetDriver

ISOS = {}

# Two private namespaces that start detached (attached to no controller): the node attaches
# namespace n to secondary controller n at boot (docs/passthrough.md, "SR-IOV").
NVME = ("-drive file=%s,if=none,id=nvm1,format=raw -drive file=%s,if=none,id=nvm2,format=raw "
        "-device nvme-subsys,id=subsys0 "
        "-device nvme,serial=deadbeef,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=8,"
        "sriov_vi_flexible=4,max_ioqpairs=10,msix_qsize=5,addr=0x04 "
        "-device nvme-ns,drive=nvm1,nsid=1,shared=false,detached=true "
        "-device nvme-ns,drive=nvm2,nsid=2,shared=false,detached=true")
# Each namespace's size and the marker in its LBA 0: what the guest owning it must see.
NAMESPACES = {1: (16 << 20, b"peregrine-namespace-1"), 2: (24 << 20, b"peregrine-namespace-2")}
VFS = (("0000:00:04.1", 1), ("0000:00:04.2", 2))


def nvme_images(home):
    """The two namespaces' backing files, each with its marker; the node's QEMU arguments."""
    paths = []
    for nsid, (size, marker) in sorted(NAMESPACES.items()):
        path = os.path.join(home, "nvm%d.img" % nsid)
        with open(path, "wb") as f:
            f.truncate(size)
            f.write(marker)
        paths.append(path)
    return ("-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on " +
            NVME % tuple(paths)), paths


class SRIOVDriver(PassthroughClaimDriver):
    case = "qemu-svm-sriov-nvme-claims"

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
                                             "%s-%s.log" % (self.case, name)))
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

    def node_up(self, memory="256M"):
        """The node with both VFs online and each secondary controller given its namespace."""
        extra, self.images = nvme_images(self.home)
        started = time.time()
        self.ok("node", "up", "--count", "1", "--cpus", "1", "--memory", memory, "--wait", "150",
                timeout=200, extra_env={"PEREGRINE_NODE_QEMU_ARGS": extra})
        self.wait_serial(r"^\[info \] pci sriov 0000:00:04\.0: 2 VFs at 0000:00:04\.1,"
                         r" 0000:00:04\.2 \(VF 1b36:")
        for vf, scid in VFS:
            self.wait_serial(r"^\[info \] pci sriov %s: NVMe secondary controller %d online with"
                             r" \d+ VQ and \d+ VI; VF CSTS 0x2 before, 0x0 after"
                             % (re.escape(vf), scid))
        for vf, scid in VFS:
            # The rule: unattached namespaces by NSID, one per secondary controller, VF order.
            self.wait_serial(r"^\[info \] pci sriov %s: NVMe namespace %d attached to secondary"
                             r" controller %d \(unattached before: this VF's own\)"
                             % (re.escape(vf), scid, scid))
        self.wait_serial(r"^\[info \] pci sriov 0000:00:04\.0: VFs ready \d+ ms after the"
                         r" capability was read")
        self.wait_serial(r"^\[info \] iommu: root table set")
        self.notes.append("node up with 2 NVMe VFs online, namespace 1 on VF 1 and 2 on VF 2, in"
                          " %.1f s" % (time.time() - started))

    def drive(self):
        self.node_up()

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
        for vf, nsid in VFS:
            # The release audit: the owner (which sent no admin command) left it as it was.
            self.wait_serial(r"^\[info \] pci sriov %s: NVMe namespace %d still this VF's own and"
                             r" its only one after its owner$" % (re.escape(vf), nsid))
        for line in ERASED:
            # Then erased for the next owner (Format NVM through the PF).
            self.wait_serial(line, 60)
        self.notes.append("both namespaces erased at their VFs' release")
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


LINUX_CASE = "qemu-svm-sriov-nvme-linux"
# 3 MiB each way per VM (1536 I/Os of 4 KiB): long enough (a few seconds under TCG) that
# the two guests' I/O phases overlap however the one CPU is shared out (1 MiB did not once).
NVME_BYTES = 3 << 20
# Guest seconds the VMs idle after their I/O: their clocks ran 0.8-4x as fast as the wall's
# (TCG, two VMs on one node CPU), so 16 guest seconds cover the harness's IDLE_WINDOW (wall).
NVME_PAUSE = 16
IDLE_WINDOW = 1.5
EXITS_PER_IO_BOUND = 40.0
LINUX_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <type>peregrine</type>
  <memory unit="MiB">160</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 cryptomgr.notests no_timer_check quiet nvme=%d nvmetag=%s nvmego=1 nvmepause=%d%s</cmdline>
  <passthrough pci="%s"/>
</profile>
"""
# The node's audit at each VF's release finds its own namespace alone on it (vma's attempt
# to take namespace 2 was refused by the admin guard), then erases it for the next owner.
AUDITS = [r"^\[info \] pci sriov %s: NVMe namespace %d still this VF's own and its only one"
          r" after its owner$" % (re.escape(vf), nsid) for vf, nsid in VFS]
ERASED = [r"^\[info \] pci sriov %s: NVMe namespace %d erased for the next owner \(Format NVM,"
          r" SES 1h, (\d+) blocks, through the PF's controller (\d+)\) in (\d+) ms$"
          % (re.escape(vf), nsid) for vf, nsid in VFS]
# The admin guard's refusal of vma's Namespace Attachment (opcode 15h), once per VM.
REFUSED = (r"^\[warn \] nvme guard: vm vma: pci 0000:00:04\.1: admin opcode 0x15 refused \(not"
           r" on the VF owner's list\); the device answers Invalid Command Opcode$")
# The first NSSR write vma makes (its dword "NVMe"), dropped and logged once per VM.
NSSR_DROPPED = (r"^\[warn \] nvme guard: vm vma: pci 0000:00:04\.1: NSSR write 0x4e564d65 dropped"
                r" \(an NVM Subsystem Reset would reset the other VFs' controllers\)$")
GUARD_END = (r"^\[info \] nvme guard: vm %s: pci %s: (\d+) admin queue stores emulated, (\d+)"
             r" register accesses, (\d+) enables, (\d+) refused slot copies, (\d+) NSSR writes dropped;"
             r" shadow queue freed$")
NVME_RUN = re.compile(r"^NVME run tag=(\w+) bytes=(\d+) written=(\w+) read=(\w+) ios=(\d+)"
                      r" reads=(\d+) writes=(\d+) irqs=(\d+) ns=(\d+) polls=(\d+)$", re.MULTILINE)


class SRIOVLinuxDriver(SRIOVDriver):
    """Two Debian VMs, each driving its own NVMe VF with the stock nvme driver, at once."""
    case = LINUX_CASE
    exits = PassthroughLinuxNetDriver.exits

    def drive(self):
        started = time.time()
        self.node_up(memory="512M")
        consoles = {}
        owners = {"vma": VFS[0], "vmb": VFS[1]}
        try:
            for vm, (function, _) in sorted(owners.items()):
                path = os.path.join(self.home, "%s.xml" % vm)
                with open(path, "w") as f:
                    # vma then attacks its VF's register page (NSSR, ASQ: /bin/nvme-regs)
                    # and tries to take vmb's namespace through its admin queue ("Missing"
                    # 5); vmb's I/O runs again after that.
                    f.write(LINUX_PROFILE % (vm, KERNEL, INITRD, NVME_BYTES, vm, NVME_PAUSE,
                                             " nvmesteal=2:2 nvmeregs=1 iomem=relaxed"
                                             if vm == "vma" else " nvmeafter=1", function))
                self.ok("create", path)
                consoles[vm] = LiveConsole(self, vm)
            for vm, (function, _) in sorted(owners.items()):
                self.wait_serial(r"^\[info \] passthrough: vm %s: pci %s in guest slot .*MSI-X"
                                 r" table trapped, (\d+) of \1 entries on host vectors"
                                 % (vm, re.escape(function)))
            for vm, (function, nsid) in sorted(owners.items()):
                self.isolated(vm, nsid, consoles[vm])
            for vm in sorted(owners):
                consoles[vm].wait(r"^NVME-READY tag=%s$" % vm, 300)
            self.notes.append("both VMs ready for I/O %.0f s after the start"
                              % (time.time() - started))
            before = {vm: self.exits(vm) for vm in owners}
            # Both guests poll their namespace's sector 8 every 0.5 s: "go" written into
            # both backing files (the emulator reads the files: no cache of its own between)
            # starts their I/O at once.
            for path in self.images:
                with open(path, "r+b") as f:
                    f.seek(8 * 512)
                    f.write(b"go")
            went = time.time()
            after, idle, go_at, done_at = {}, {}, {}, {}
            deadline = time.time() + 240
            while len(idle) < len(owners):
                if time.time() > deadline:
                    raise DriverFailure("no NVME-DONE from %s" % sorted(set(owners) - set(after)))
                for vm in owners:
                    if vm not in go_at and re.search(r"^NVME-GO ", consoles[vm].text,
                                                     re.MULTILINE):
                        go_at[vm] = time.time() - went
                    if vm not in after and re.search(r"^NVME-DONE$", consoles[vm].text,
                                                     re.MULTILINE):
                        after[vm] = self.exits(vm)
                        done_at[vm] = time.time() - went
                    elif vm in after and vm not in idle and \
                            time.time() - went - done_at[vm] >= IDLE_WINDOW:
                        # The idle rate: the guest idles NVME_PAUSE guest seconds after its I/O.
                        idle[vm] = self.exits(vm)
                time.sleep(0.1)
            # Each VM's data is in its own backing file (read now: the node erases both
            # namespaces when the VFs are released).
            self.own_data_only()
            # Once both are measured: vma's Namespace Attachment through its own VF, started
            # by "go" in sector 16 of its namespace.
            with open(self.images[0], "r+b") as f:
                f.seek(16 * 512)
                f.write(b"go")
            consoles["vma"].wait(r"^NVME-STEAL-DISKS ", 180)
            # vmb's controller after vma's attack: "go" in its sector 16 starts 256 KiB of
            # I/O, which must complete and read back.
            attacked = time.time()
            with open(self.images[1], "r+b") as f:
                f.seek(16 * 512)
                f.write(b"go")
            after_io = consoles["vmb"].wait(r"^NVME-AFTER (.*)$", 120)
            if not after_io.group(1).startswith("PASS tag=vmb"):
                raise DriverFailure("vmb after vma's attack: %s" % after_io.group(0))
            self.notes.append("vmb after vma's register-page attack: %s (%.1f s after go)"
                              % (after_io.group(0), time.time() - attacked))
            overlap = min(done_at.values()) - max(go_at.get(vm, 0) for vm in owners)
            if overlap <= 0:
                raise DriverFailure("the two VMs' I/O did not overlap: go seen %r, done %r"
                                    % (go_at, done_at))
            self.notes.append("I/O from go to done (wall, as the consoles showed it): %s;"
                              " both at once for %.1f s"
                              % (", ".join("%s %.1f-%.1f s" % (vm, go_at[vm], done_at[vm])
                                           for vm in sorted(owners)), overlap))
            for vm, (function, _) in sorted(owners.items()):
                self.wait_serial(r"^\[info \] vm %s: lifetime " % vm, 120)
                self.reset(vm, function, destroy=False)
            # The audit finds nothing to repair; then each namespace is erased.
            for line in AUDITS:
                self.wait_serial(line, 30)
            for line, (vf, nsid) in zip(ERASED, VFS):
                self.wait_serial(line, 60)
                erased = re.search(line, self.serial(), re.MULTILINE)
                self.notes.append("%s: namespace %d erased at release: %s blocks in %s ms"
                                  " (Format NVM through the PF's controller %s)"
                                  % (vf, nsid, erased.group(1), erased.group(3), erased.group(2)))
            self.erased_files()
        finally:
            for vm, console in consoles.items():
                console.close()
                try:
                    with open(os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                           "test-logs", "%s-%s.log" % (self.case, vm)), "w") as f:
                        f.write(console.text)
                except OSError:
                    pass
        ios = {vm: self.measure(vm, consoles[vm].text, before[vm], after[vm], idle[vm])
               for vm in sorted(owners)}
        self.registers(consoles["vma"].text)
        self.steal(consoles["vma"].text)
        text = self.serial()
        self.guarded(text, owners, ios)
        for vm in sorted(owners):
            report = re.search(r"^\[info \] vm %s: lifetime [^\n]*\n(?:\s+.*\n)*?\s*pci: .*MSIs"
                               r" (\d+) delivered, (\d+) undelivered, (\d+) dropped" % vm, text,
                               re.MULTILINE)
            if not report or int(report.group(1)) == 0 or int(report.group(2)) \
                    or int(report.group(3)):
                raise DriverFailure("%s's PCI report: %s" % (vm, report and report.group(0)))
            # Trapped BAR accesses over the VM's whole life (the MSI-X table page: the driver
            # programming its vectors): a doorbell that trapped would add 2 per I/O.
            bars = re.search(r"^\[info \] vm %s: lifetime [^\n]*\n(?:\s+.*\n)*?\s*pci: \d+ accesses"
                             r" to ports 0xCF8-0xCFF, \d+ to ECAM, (\d+) to BARs" % vm, text,
                             re.MULTILINE)
            if not bars or int(bars.group(1)) > ios[vm] // 4:
                raise DriverFailure("%s: trapped BAR accesses %s for %d I/Os"
                                    % (vm, bars and bars.group(1), ios[vm]))
            self.notes.append("%s end report: MSIs %s delivered, 0 undelivered, 0 dropped;"
                              " %s trapped BAR accesses in its life (for %d I/Os)"
                              % (vm, report.group(1), bars.group(1), ios[vm]))
        for line in re.findall(r"^\[\w+ *\] (?:pci sriov .*namespace|passthrough: vm).*$", text,
                               re.MULTILINE):
            self.notes.append(line)
        for pattern in [r"PEREGRINE (PANIC|EXCEPTION)", r"IOMMU fault"]:
            if re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("the node's console has %r" % pattern)
        for line in re.findall(r"^\[warn.*(?:pci sriov|nvme guard).*$", text, re.MULTILINE):
            if not re.match(REFUSED, line) and not re.match(NSSR_DROPPED, line):
                raise DriverFailure("the node's console has %r" % line)
        self.notes.append("whole case %.0f s" % (time.time() - started))
        return self.notes

    def isolated(self, vm, nsid, console):
        """The VM sees one namespace, its own: the NSID, size and LBA 0 marker of that one."""
        disks = console.wait(r"^NVME-DISKS (.*)$", 300).group(1).split()
        # The subsystem is multi-controller (CMIC), so Linux's native multipath shows the
        # namespace once (nvme0n1) and its one path (nvme0c0n1, hidden); a second namespace
        # would be nvme0n2 and its path nvme0c0n2.
        heads = [d for d in disks if re.match(r"^nvme\d+n\d+$", d)]
        paths = [d for d in disks if re.match(r"^nvme\d+c\d+n\d+$", d)]
        if heads != ["nvme0n1"] or any(not p.endswith("n1") for p in paths) \
                or len(heads) + len(paths) != len(disks):
            raise DriverFailure("%s sees NVMe block devices %r, not just its own" % (vm, disks))
        disk = console.wait(r"^NVME-DISK nvme0n1 nsid=(\d*) sectors=(\d+) cntlid=(\d*)$", 60)
        size, marker = NAMESPACES[nsid]
        if disk.group(1) != str(nsid) or int(disk.group(2)) != size // 512:
            raise DriverFailure("%s: %s, expected namespace %d of %d sectors"
                                % (vm, disk.group(0), nsid, size // 512))
        mark = console.wait(r"^NVME-MARK (.*)$", 60).group(1)
        if mark != marker.decode():
            raise DriverFailure("%s reads %r at LBA 0, not its namespace's %r" % (vm, mark, marker))
        self.notes.append("%s sees only nvme0n1 (block devices %s): namespace %s, %s sectors,"
                          " controller %s, LBA 0 %r" % (vm, " ".join(disks), disk.group(1),
                                                        disk.group(2), disk.group(3), mark))

    def registers(self, text):
        """vma's attack on its VF's register page (guests/linux/nvme-regs.c): NSSR written
        "NVMe" nine ways reads 0 after (dropped: QEMU 7.2 does not implement the reset, so
        what the case shows is the node's count, in guarded()); ASQ byte-written reads back
        as the guest wrote it (dword, qword, and straddling from AQA), the device never
        seeing it: the Namespace Attachment after it is still refused (steal()); CC and
        CSTS as before (enabled, ready, no fatal status, no NSSRO)."""
        lines = dict(re.findall(r"^NVME-REGS (\w+) (.*)$", text, re.MULTILINE))
        if set(lines) != {"before", "nssr", "asq", "after"}:
            raise DriverFailure("vma's register-page attack printed %r" % (lines,))
        before = dict(re.findall(r"(\w+)=0x([0-9a-f]+)", lines["before"]))
        after = dict(re.findall(r"(\w+)=0x([0-9a-f]+)", lines["after"]))
        asq = dict(re.findall(r"(\w+)=0x([0-9a-f]+)", lines["asq"]))
        guest_asq = int(before["asq"], 16)
        wrote = int(asq["wrote"], 16)
        expected = {"read": wrote, "qword": guest_asq & ~0xFFFFFFFF | wrote,
                    "straddling": wrote << 32 | int(before["aqa"], 16),
                    "restored": guest_asq}
        for name, value in expected.items():
            if int(asq[name], 16) != value:
                raise DriverFailure("vma's ASQ %s 0x%x, expected 0x%x: %s"
                                    % (name, int(asq[name], 16), value, lines["asq"]))
        if guest_asq == 0 or guest_asq >> 32 == 0x7F:
            raise DriverFailure("vma reads ASQ 0x%x, not its own ring" % guest_asq)
        if lines["nssr"] != "writes=9 read=0x0":
            raise DriverFailure("vma's NSSR writes: %s" % lines["nssr"])
        cc, csts = int(after["cc"], 16), int(after["csts"], 16)
        if cc != int(before["cc"], 16) or cc & 1 != 1 or csts & 0x13 != 0x1:
            raise DriverFailure("vma's controller after the attack: %s (before: %s)"
                                % (lines["after"], lines["before"]))
        self.notes.append("vma's register-page attack: before %s; NSSR %s; ASQ %s; after %s"
                          % (lines["before"], lines["nssr"], lines["asq"], lines["after"]))

    def steal(self, text):
        """vma's attempt on vmb's namespace through its own VF's admin queue (QEMU 7.2's VF
        would take it: docs/passthrough.md, "NVMe admin guard"): both commands must fail
        in the guest with Invalid Command Opcode (the guard's replacement), and vma must
        still see its one namespace and nothing of vmb's."""
        lines = re.findall(r"^NVME-ATTACH (detach|attach) nsid=(\d+) controller=(\d+)"
                           r" (status=0x([0-9a-f]+)|error=\d+)$", text, re.MULTILINE)
        if [line[0] for line in lines] != ["detach", "attach"]:
            raise DriverFailure("vma's Namespace Attachment attempt printed %r" % (lines,))
        for line in lines:
            if not line[4] or int(line[4], 16) & 0x7FF != 0x001:
                raise DriverFailure("vma's Namespace Attachment %s was not refused with Invalid"
                                    " Command Opcode: %s" % (line[0], line[3]))
        disks = re.search(r"^NVME-STEAL-DISKS (.*)$", text, re.MULTILINE).group(1).split()
        mark = re.search(r"^NVME-STEAL-MARK (.*)$", text, re.MULTILINE)
        if [d for d in disks if re.match(r"^nvme\d+n\d+$", d)] != ["nvme0n1"] or mark \
                or "peregrine-namespace-2" in text:
            raise DriverFailure("vma sees %r after its attempt (mark %r)"
                                % (disks, mark and mark.group(1)))
        self.notes.append("vma through its own VF's admin queue: detach namespace %s from"
                          " controller %s: %s, attach it to controller %s: %s (both refused by"
                          " the guard); vma then sees %s only"
                          % (lines[0][1], lines[0][2], lines[0][3], lines[1][2], lines[1][3],
                             " ".join(disks)))

    def guarded(self, text, owners, ios):
        """The admin guard's line at each VF's release: Linux's probe went through the shadow
        queue (stores emulated), only vma's commands were refused, and the refusal was
        logged once; the trapped register page costs exits at probe, none per I/O (checked
        with the BAR total in drive())."""
        if len(re.findall(REFUSED, text, re.MULTILINE)) != 1:
            raise DriverFailure("the node did not log vma's refused admin command once")
        if len(re.findall(NSSR_DROPPED, text, re.MULTILINE)) != 1:
            raise DriverFailure("the node did not log vma's dropped NSSR write once")
        for vm, (function, _) in sorted(owners.items()):
            end = re.search(GUARD_END % (vm, re.escape(function)), text, re.MULTILINE)
            if not end:
                raise DriverFailure("no admin guard line for %s" % vm)
            stores, registers, enables, refused, dropped = (int(g) for g in end.groups())
            # vma's nine NSSR writes, each dropped once; vmb's driver writes none.
            if stores == 0 or enables == 0 or (refused > 0) != (vm == "vma") \
                    or dropped != (9 if vm == "vma" else 0):
                raise DriverFailure("%s's admin guard: %s" % (vm, end.group(0)))
            self.notes.append("%s admin guard: %d admin queue stores emulated (one exit each),"
                              " %d register page accesses, %d enables, %d refused slot copies,"
                              " %d NSSR writes dropped, over the VM's life (%d I/Os)"
                              % (vm, stores, registers, enables, refused, dropped, ios[vm]))

    def erased_files(self):
        """After both VFs' release both backing files read zero: the markers, the guests'
        patterns and the go sectors are gone."""
        for path in self.images:
            with open(path, "rb") as f:
                data = f.read()
            if data.strip(b"\0"):
                raise DriverFailure("%s still holds %d non-zero bytes after the erase"
                                    % (path, len(data) - data.count(0)))
        self.notes.append("both backing files read all zero after the release (%s)"
                          % ", ".join("%d bytes" % os.path.getsize(p) for p in self.images))

    def own_data_only(self):
        """Each backing file holds its own VM's pattern from 1 MiB on and nothing of the other's."""
        for path, (mine, other) in zip(self.images, (("vma", "vmb"), ("vmb", "vma"))):
            with open(path, "rb") as f:
                data = f.read()
            pattern = (b"peregrine %s \n" % mine.encode()) * (NVME_BYTES // 15 + 1)
            if data[1 << 20:(1 << 20) + NVME_BYTES] != pattern[:NVME_BYTES]:
                raise DriverFailure("%s does not hold %s's pattern at 1 MiB" % (path, mine))
            if b"peregrine %s" % other.encode() in data:
                raise DriverFailure("%s holds data of %s" % (path, other))
        self.notes.append("backing files: namespace 1 holds vma's pattern only, namespace 2"
                          " vmb's only")

    def measure(self, vm, text, before, after, idle):
        found = NVME_RUN.search(text)
        if not found or found.group(1) != vm or not re.search(r"^NVME-PASS tag=%s$" % vm, text,
                                                               re.MULTILINE):
            raise DriverFailure("%s: %s" % (vm, text[-1200:]))
        ios, irqs, polls = int(found.group(5)), int(found.group(8)), int(found.group(10))
        if found.group(3) != found.group(4) or int(found.group(2)) != NVME_BYTES \
                or ios < 2 * NVME_BYTES // 4096:
            raise DriverFailure("%s: %s" % (vm, found.group(0)))
        moved = after[0] - before[0]
        span = after[2] - before[2]
        idle_rate = (idle[0] - after[0]) / max(idle[2] - after[2], 0.001)
        net = max(moved - idle_rate * span, 0)
        reasons = {r: after[1].get(r, 0) - before[1].get(r, 0) for r in after[1]}
        self.notes.append(
            "%s: %d bytes written and read back (sha256 %s), %d I/Os (%s reads, %s writes),"
            " %d nvme interrupts, %.0f ms guest time (%d polls for go);"
            " exits %d over %.1f s (%.2f per I/O; minus the idle rate %.1f/s: %.2f per I/O);"
            " by reason: %s"
            % (vm, NVME_BYTES, found.group(3)[:16], ios, found.group(6), found.group(7), irqs,
               int(found.group(9)) / 1e6, polls, moved, span, moved / ios, idle_rate,
               net / ios, ", ".join(
                   "%s %d" % (r, n) for r, n in sorted(reasons.items(), key=lambda x: -x[1])
                   if n)))
        # Doorbells are in the VF's BAR0 pages mapped by nested paging, queues in guest RAM:
        # no I/O makes an exit of its own (the end report's trapped BAR count, checked in
        # drive(), is the direct check: a trapped doorbell would add 2 per I/O there). What
        # the window holds is interrupts (each one's host vector, an extint when it lands
        # while this VM runs: the other VM's too, on this one-CPU node; its EOI exits only
        # when KVM's paravirtual EOI flag was not set, as a WRMSR of the x2APIC EOI) for the
        # nvme completions and for the guest's own timer (LOC; its deadline writes are
        # wrmsr), the programs the guest starts (cpuid), its console lines (io) and idling
        # (hlt). Any npf is MMIO other than the doorbells (mapped). The timer's share varies with the load of the host
        # (measured 5.7-21 exits per I/O raw, 0-15 beyond the idle rate): the bound is a
        # sanity one.
        others = re.search(r"^NVME-SYSIRQS(.*)$", text, re.MULTILINE)
        timer = re.search(r"\bLOC=(\d+)", others.group(1) if others else "")
        if not timer:
            raise DriverFailure("%s printed no NVME-SYSIRQS line with LOC" % vm)
        npf = reasons.get("npf", 0)
        self.notes.append("%s's other interrupts over its I/O (/proc/interrupts):%s; npf: %d"
                          % (vm, others.group(1), npf))
        if net / ios > EXITS_PER_IO_BOUND or irqs > ios + 50:
            raise DriverFailure("%s: %.2f exits per I/O beyond the idle rate (bound %.1f),"
                                " %d interrupts for %d I/Os"
                                % (vm, net / ios, EXITS_PER_IO_BOUND, irqs, ios))
        self.notes.append("ROW %s ios=%d exits_per_io=%.3f net_exits_per_io=%.3f"
                          " interrupts_per_io=%.3f npf_per_io=%.3f extint_per_io=%.3f"
                          % (vm, ios, moved / ios, net / ios, irqs / ios,
                             reasons.get("npf", 0) / ios, reasons.get("extint", 0) / ios))
        return ios


def cases():
    return [
        Case("qemu-svm-sriov-nvme-claims", "host", cases_management.ISO, [], timeout=600,
             driver=SRIOVDriver()),
        Case(LINUX_CASE, "host", cases_management.ISO, [], timeout=900,
             driver=SRIOVLinuxDriver()),
    ]


def prepare(selected):
    """Debian's kernel and the initramfs with the current guests/linux/init, for the Linux
    case (its VMs come from profiles, so run.py does not fetch them for it)."""
    if any(case.name == LINUX_CASE for case in selected):
        fetch = os.path.join(cases_management.ROOT, "scripts", "fetch-linux-fixtures.sh")
        if subprocess.run([fetch], cwd=cases_management.ROOT, stdout=subprocess.DEVNULL).returncode:
            raise SystemExit("could not fetch the Linux fixtures")
