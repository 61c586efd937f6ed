"""Guest NICs (docs/guest-io.md): Debian's kernel with a virtio-net NIC of the profile's MAC
(`nic=` on the boot-time line), its frames through the node's software switch.

- Two VMs on one node: each configures eth0 (`ipaddr=`) and pings the other
  (guests/linux/init: `ping=PEER pings=N`); every echo must come back. On AMD-V (QEMU) and,
  in `make test-slow`, on VT-x (Bochs): there each VM's PCI report must also show MSI-X
  messages delivered and none undelivered or dropped.
- Two nodes, one VM each: node A is the harness's, node B is started by the driver; both
  have a data NIC (`PEREGRINE_DATA_NET`: a second virtio-net in PCI slot 0x10 on one QEMU
  multicast segment), the uplink of their switches. The VMs ping each other across it. In
  `make test-slow` (80 s, to keep `make test` under 20 minutes); `make test` still sends a
  guest's frames over a data segment in qemu-svm-migration-live (a station pings its VM).

Each VM's NIC counters are printed when it ends (`net: vm NAME nic0 ...`): frames, bytes,
bytes the hypervisor copied and drops by reason. No frame may be dropped as spoofed or as a
queue fault.
"""

import os
import re
import subprocess

from harness import Case, DriverFailure

LOCAL_ISO = "build/test/guest-net-local.iso"
NODE_A_ISO = "build/test/guest-net-node-a.iso"
NODE_B_ISO = "build/test/guest-net-node-b.iso"
PINGS = 10


def linux_vm(name, mac, address, peer, pings=PINGS, linger=20):
    return [
        "build/linux/vmlinuz:vm name=%s kind=linux mem=192M nic=%s -- console=ttyS0 cryptomgr.notests quiet"
        " no_timer_check ipaddr=%s/24 ping=%s pings=%d linger=%d" % (name, mac, address, peer,
                                                                   pings, linger),
        "build/linux/initramfs.cpio.gz:initrd vm=%s" % name,
    ]


ISOS = {
    LOCAL_ISO: {"cmdline": "loglevel=info", "modules":
                linux_vm("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2")
                + linux_vm("netb", "52:54:00:12:34:02", "10.0.5.2", "10.0.5.1")},
    NODE_A_ISO: {"cmdline": "loglevel=info", "modules":
                 linux_vm("neta", "52:54:00:12:35:01", "10.0.6.1", "10.0.6.2", linger=30)},
    NODE_B_ISO: {"cmdline": "loglevel=info", "modules":
                 linux_vm("netb", "52:54:00:12:35:02", "10.0.6.2", "10.0.6.1", linger=30)},
}

FORBID = [r"PEREGRINE (PANIC|EXCEPTION)", r"Kernel panic", r"NET-FAIL",
          r"tx-spoofed=", r"queue-fault=", r"\) refused: "]


def vm_lines(name, mac, address, peer):
    return [r"^\[%s\] NET eth0 %s %s/24$" % (name, mac, re.escape(address)),
            r"^\[%s\] PING peer=%s sent=%d received=%d rtt=[\d.]+/[\d.]+/[\d.]+ waited=\d+$"
            % (name, re.escape(peer), PINGS, PINGS)]


def nic_line(name, mac):
    return r"^net: vm %s nic0 %s tx \d+ frames \d+ bytes, rx \d+ frames \d+ bytes, copied \d+ bytes" \
           % (name, mac)


def busy_nic_line(name, mac):
    """The NIC's end line with frames and bytes each way and bytes copied, none zero."""
    return (r"^net: vm %s nic0 %s tx [1-9]\d* frames [1-9]\d* bytes, rx [1-9]\d* frames "
            r"[1-9]\d* bytes, copied [1-9]\d* bytes, vm exits [1-9]\d*, dropped \d+" % (name, mac))


# A VM's PCI report (Sources/Kernel/VM/PCIReport.swift): BAR accesses (the NIC's virtio
# configuration, doorbells and MSI-X table) and MSI-X messages, every one delivered.
MSI_LINE = (r"pci: \d+ accesses to ports 0xCF8-0xCFF, \d+ to ECAM, [1-9]\d* to BARs; "
            r"MSIs [1-9]\d* delivered, 0 undelivered, 0 dropped")


class SecondNodeDriver:
    """Starts node B on the data segment node A (the harness's) is on, and checks its log."""

    def __init__(self):
        from cases_net import free_udp_port
        self.port = free_udp_port()
        self.peer_log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "build", "test-logs", "qemu-svm-guest-net-two-nodes.peer.log")

    def qemu_args(self):
        return []

    def env(self):
        return {"PEREGRINE_DATA_NET": str(self.port), "PEREGRINE_DATA_MAC": "52:54:00:51:00:01",
                "PEREGRINE_MEMORY": "512M"}

    def run(self, console):
        from harness import ROOT, LiveConsole, iso_cmdline
        spec = ISOS[NODE_B_ISO]
        built = subprocess.run(["make", "--no-print-directory", "-s", "iso", "ISO=" + NODE_B_ISO,
                                "CMDLINE=" + iso_cmdline(spec), "GUEST_MODULES=" + ";".join(spec["modules"])],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if built.returncode != 0:
            raise DriverFailure("could not build %s: %s" % (NODE_B_ISO, built.stdout[-500:]))
        env = dict(os.environ, PEREGRINE_DATA_NET=str(self.port), PEREGRINE_DATA_MAC="52:54:00:51:00:02",
                   PEREGRINE_MEMORY="512M")
        os.makedirs(os.path.dirname(self.peer_log), exist_ok=True)
        with open(self.peer_log, "w") as log:
            peer = subprocess.Popen([os.path.join(ROOT, "scripts", "run-qemu.sh"),
                                     os.path.join(ROOT, NODE_B_ISO)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        try:
            peer_console = LiveConsole(self.peer_log)
            peer_console.wait_for(r"^\[netb\] PING peer=", 400)
            console.wait_for(r"^\[neta\] PING peer=", 400)
            peer.wait(timeout=200)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
            raise DriverFailure("node B did not end")
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
        with open(self.peer_log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for pattern in [r"^\[info \] net: data NIC 52:54:00:51:00:02 is the guest switch's uplink"]\
                + vm_lines("netb", "52:54:00:12:35:02", "10.0.6.2", "10.0.6.1")\
                + [nic_line("netb", "52:54:00:12:35:02")]:
            if not re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("node B's console lacks %r" % pattern)
        for pattern in FORBID:
            if re.search(pattern, text, re.MULTILINE):
                raise DriverFailure("node B's console has %r" % pattern)
        return []


def cases():
    return [
        Case("qemu-svm-guest-net-two-vms-one-node", "qemu", LOCAL_ISO,
             [r"vm neta: 192 MiB"],
             forbid=FORBID, timeout=600, waits=True,
             counts={vm_lines("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2")[1]: 1,
                     vm_lines("netb", "52:54:00:12:34:02", "10.0.5.2", "10.0.5.1")[1]: 1,
                     vm_lines("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2")[0]: 1,
                     nic_line("neta", "52:54:00:12:34:01"): 1,
                     nic_line("netb", "52:54:00:12:34:02"): 1,
                     r"summary: vm net[ab]: powered off by the guest \(ACPI S5\)": 2}),
        # The same ISO on VT-x (Bochs, corei7_skylake_x: VMX with EPT), one CPU time-sharing
        # both VMs: the virtio-net BARs through EPT violations, MSI-X posted to VMX vCPUs,
        # each VM's MSIs all delivered. Slow (make test-slow): two Linux boots under Bochs,
        # 275-436 s of wall time on the shared 2-core host (docs/guest-io.md, "Coverage").
        Case("bochs-vmx-guest-net-two-vms-one-node", "bochs", LOCAL_ISO,
             [r"vmx: every requested VMX control is available", r"vm neta: 192 MiB",
              r"^summary: physical frames free: (\d+) before the VMs, \1 after$"],
             forbid=FORBID, timeout=1500, slow=True, env={"PEREGRINE_BOCHS_MEMORY": "768"},
             counts={vm_lines("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2")[1]: 1,
                     vm_lines("netb", "52:54:00:12:34:02", "10.0.5.2", "10.0.5.1")[1]: 1,
                     vm_lines("neta", "52:54:00:12:34:01", "10.0.5.1", "10.0.5.2")[0]: 1,
                     vm_lines("netb", "52:54:00:12:34:02", "10.0.5.2", "10.0.5.1")[0]: 1,
                     busy_nic_line("neta", "52:54:00:12:34:01"): 1,
                     busy_nic_line("netb", "52:54:00:12:34:02"): 1,
                     MSI_LINE: 2,
                     r"summary: vm net[ab]: powered off by the guest \(ACPI S5\)": 2}),
        Case("qemu-svm-guest-net-two-nodes", "qemu", NODE_A_ISO,
             [r"^\[info \] net: data NIC 52:54:00:51:00:01 is the guest switch's uplink"]
             + vm_lines("neta", "52:54:00:12:35:01", "10.0.6.1", "10.0.6.2")
             + [nic_line("neta", "52:54:00:12:35:01"),
                r"summary: vm neta: powered off by the guest \(ACPI S5\)"],
             forbid=FORBID, timeout=600, slow=True, driver=SecondNodeDriver()),
    ]
