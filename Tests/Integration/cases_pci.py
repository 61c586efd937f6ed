"""The VM's PCI platform (docs/guest-io.md): a flat guest with apic=on reads the host bridge
through ports 0xCF8/0xCFC and ECAM on both backends; a Linux guest finds bus 0 through the
MCFG and \\_SB.PCI0 and lists the host bridge; with rng=on it binds virtio_rng to 00:01.0 and
reads /dev/hwrng through MSI-X, on both backends. A flat guest drives QEMU's edu behind the
virtual VT-d unit (iommu=vtd edu=on): a translated DMA and a blocked one."""

from harness import Case

ISOS = {
    "build/test/pci-config.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/pci/config-space.bin:vm name=pci-config apic=on",
        "build/guests/tests/real-mode.bin:vm name=no-pci",
    ]},
    "build/test/viommu-edu.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/pci/viommu-edu.bin:vm name=viommu apic=on iommu=vtd edu=on",
    ]},
    "build/test/linux-viommu.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M iommu=vtd edu=on -- console=ttyS0 cryptomgr.notests lspci=1",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
    "build/test/linux-pci.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M -- console=ttyS0 cryptomgr.notests lspci=1",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
    "build/test/linux-rng.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M rng=on -- console=ttyS0 cryptomgr.notests lspci=1 hwrng=32",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
}

FLAT_EXPECT = [
    r"^\[pci-config\] DONE failures=0",
    # 12 port accesses, 7 ECAM accesses (5 reads, 2 writes), 1 BAR-window read: per VM.
    r"pci: 12 accesses to ports 0xCF8-0xCFF, 7 to ECAM, 1 to BARs; MSIs 0 delivered",
    r"summary: vm pci-config: stopped by the guest, exit code 0",
    r"summary: vm no-pci: stopped by the guest, exit code 0",
]
FLAT_FORBID = [r"^\[pci-config\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)", r"exit storm"]

# The virtual VT-d unit and edu (docs/virtual-iommu.md): a DMA through a mapping, one to an
# unmapped IOVA blocked, recorded and reported on the console with the VM and device.
VIOMMU_EXPECT = [
    r"vIOMMU fault: VM viommu device 00:01\.0 write to 0x300000: write to a page not mapped "
    r"writable \(reason 0x05\)",
    r"^\[viommu\] DONE failures=0",
    r"vIOMMU: 3 DMA translations, 0 interrupts remapped, 1 faults",
    r"summary: vm viommu: stopped by the guest, exit code 0",
]
VIOMMU_FORBID = [r"^\[viommu\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)", r"exit storm"]
VIOMMU_COUNTS = {r"^\[viommu\] PASS ": 10}
FLAT_COUNTS = {r"^\[pci-config\] PASS ": 11}

LINUX_EXPECT = [
    r"^\[linux\] .*BIOS-e820: \[mem 0x00000000e0000000-0x00000000e00fffff\] reserved",
    r"^\[linux\] .*ACPI: MCFG 0x[0-9A-F]+ 00003C \(v01 PRGRN  PEREGRIN",
    r"^\[linux\] .*PCI: MMCONFIG for domain 0000 \[bus 00-00\] at \[mem 0xe0000000-0xe00fffff\] \(base 0xe0000000\)",
    r"^\[linux\] .*PCI: MMCONFIG at \[mem 0xe0000000-0xe00fffff\] reserved in E820",
    r"^\[linux\] .*PCI: Using configuration type 1 for base access",
    r"^\[linux\] .*ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00\]\)",
    r"^\[linux\] .*pci_bus 0000:00: root bus resource \[mem 0xc0000000-0xdfffffff window\]",
    r"^\[linux\] .*pci 0000:00:00.0: \[1b36:0008\] type 00 class 0x060000",
    r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
    r"^\[linux\] PCI 0000:00:00.0 vendor=0x1b36 device=0x0008 class=0x060000$",
    r"pci: \d+ accesses to ports 0xCF8-0xCFF, \d+ to ECAM",
    r"summary: vm linux: powered off by the guest \(ACPI S5\)",
]
LINUX_FORBID = [
    r"PEREGRINE (PANIC|EXCEPTION)",
    r"^\[linux\] .*(MMCONFIG.*not reserved|not using MMCONFIG|No IRQ known|_OSC failed|PCI: System does not support PCI)",
    r"^\[linux\] .*ACPI (Error|BIOS Error|Warning)",
]


# Linux's intel-iommu on the virtual VT-d unit: the DMAR read, interrupt remapping on in
# xAPIC mode (the I/O APIC's entries remappable from then on), queued invalidation, the
# host bridge and edu in translated domains, and the boot going on to userspace.
LINUX_VIOMMU_EXPECT = [
    r"^\[linux\] .*ACPI: DMAR 0x[0-9A-F]+ 000048 \(v01 PRGRN  PEREGRIN",
    r"^\[linux\] .*DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap c00004222f0682 ecap f00f4b",
    r"^\[linux\] .*DMAR-IR: IOAPIC id 1 under DRHD base  0xfed90000 IOMMU 0",
    r"^\[linux\] .*DMAR-IR: Enabled IRQ remapping in xapic mode",
    r"^\[linux\] .*pci 0000:00:01.0: \[1234:11e8\] type 00 class 0xff0000",
    r"^\[linux\] .*DMAR: dmar0: Using Queued invalidation",
    r"^\[linux\] .*pci 0000:00:01.0: Adding to iommu group 1",
    r"^\[linux\] .*DMAR: Intel\(R\) Virtualization Technology for Directed I/O",
    r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
    r"vIOMMU: \d+ DMA translations, [1-9]\d* interrupts remapped, 0 faults",
    r"summary: vm linux: powered off by the guest \(ACPI S5\)",
]
LINUX_VIOMMU_FORBID = LINUX_FORBID + [r"vIOMMU fault", r"^\[linux\] .*DMAR: .*fault"]


RNG_EXPECT = [
    r"^\[linux\] .*pci 0000:00:01.0: \[1af4:1044\] type 00 class 0x",
    r"^\[linux\] .*pci 0000:00:01.0: BAR 4 \[mem 0xc0000000-0xc0003fff 64bit\]",
    r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
    r"^\[linux\] PCI 0000:00:01.0 vendor=0x1af4 device=0x1044 class=0x",
    r"^\[linux\] HWRNG current=virtio_rng.0$",
    r"^\[linux\] HWRNG read=32 [0-9a-f]{64}$",
    r"^\[linux\] IRQ +\d+: +[1-9]\d* .*PCI-MSI.*virtio0-",
    r"pci: \d+ accesses to ports 0xCF8-0xCFF, \d+ to ECAM, [1-9]\d* to BARs; MSIs [1-9]\d* delivered, 0 undelivered, 0 dropped",
    r"summary: vm linux: powered off by the guest \(ACPI S5\)",
]
RNG_FORBID = LINUX_FORBID + [r"^\[linux\] MODULE-FAILED", r"virtio_rng.*(probe|fail|error)"]


def cases():
    return [
        Case("qemu-svm-pci-config-space", "qemu", "build/test/pci-config.iso", FLAT_EXPECT,
             forbid=FLAT_FORBID, counts=FLAT_COUNTS, timeout=120),
        Case("bochs-vmx-pci-config-space", "bochs", "build/test/pci-config.iso",
             [r"vmx: every requested VMX control is available"] + FLAT_EXPECT,
             forbid=FLAT_FORBID, counts=FLAT_COUNTS, timeout=300),
        Case("qemu-svm-viommu-edu", "qemu", "build/test/viommu-edu.iso", VIOMMU_EXPECT,
             forbid=VIOMMU_FORBID, counts=VIOMMU_COUNTS, timeout=120),
        Case("bochs-vmx-viommu-edu", "bochs", "build/test/viommu-edu.iso",
             [r"vmx: every requested VMX control is available"] + VIOMMU_EXPECT,
             forbid=VIOMMU_FORBID, counts=VIOMMU_COUNTS, timeout=300),
        Case("qemu-svm-linux-pci-bus", "qemu", "build/test/linux-pci.iso", LINUX_EXPECT,
             forbid=LINUX_FORBID, timeout=240),
        Case("qemu-svm-linux-viommu", "qemu", "build/test/linux-viommu.iso",
             LINUX_VIOMMU_EXPECT, forbid=LINUX_VIOMMU_FORBID, timeout=240),
        Case("qemu-svm-linux-virtio-rng", "qemu", "build/test/linux-rng.iso", RNG_EXPECT,
             forbid=RNG_FORBID, timeout=120),
        # Slow (make test-slow): a second Bochs Linux boot; VT-x's virtio-pci transport and
        # MSI-X are already covered by bochs-vmx-linux-virtio-blk-ext4 in every make test.
        Case("bochs-vmx-linux-virtio-rng", "bochs", "build/test/linux-rng.iso", RNG_EXPECT,
             forbid=RNG_FORBID, timeout=500, slow=True),
    ]
