"""The VT-d driver (docs/iommu.md) under QEMU q35 with `-device intel-iommu,intremap=on`.

- The node finds the DRHD in the DMAR table and reports CAP/ECAP decoded.
- `iommu=selftest`: the node's own e1000 is put in a stand-in VM's domain (64 KiB of RAM at
  guest-physical 0), translation goes on, the NIC is made to send a frame: its read of the
  transmit descriptor (hypervisor memory, outside the domain) is refused by the IOMMU, and
  the fault is reported with the VM, the device and the address, and counted. The domain is
  torn down (the NIC back on its pass-through entry, translation still on, every table frame
  back), then a VM runs as usual.
- On QEMU's pc machine there is no DMAR table: said once, nothing else changes.
"""

from harness import Case

ISO = "build/test/iommu-selftest.iso"
HELLO = "build/guests/examples/hello.bin:vm name=hello load=0x7c00 entry=0000:7c00"
ISOS = {
    ISO: {"cmdline": "loglevel=info ip=dhcp iommu=selftest", "modules": [HELLO]},
}

Q35_E1000 = {
    "PEREGRINE_MACHINE": "q35,kernel-irqchip=split",
    "PEREGRINE_IOMMU": "intel",
    "PEREGRINE_NET_MODEL": "e1000",
    # Nobody listens: the node's DHCP stays unanswered, no traffic but the selftest's frame.
    "PEREGRINE_NET": "socket,udp=127.0.0.1:27431,localaddr=127.0.0.1:27432",
}
HELLO_ENDS = [r"^\[hello\] Hello from a flat guest",
              r"summary: vm hello: stopped by the guest, exit code 0"]


def cases():
    return [
        Case("qemu-svm-iommu-vtd-fault", "qemu", ISO, [
            r"^\[info \] iommu: VT-d 1\.0 at 0xfed90000, segment 0, scopes 8, host width 39,"
            r" RMRRs 0; cap 0xd2008c22260206 \(domains 65536, SAGAW 0x2, MGAW 39, CM=0, 2M pages,"
            r" fault records 1\) ecap 0xf00f4a \(QI IR PT non-coherent\)",
            r"^\[info \] iommu: root table set \(legacy mode\), translation off until a device is assigned",
            r"^\[info \] iommu selftest: domain 1 for selftest-vm, 4 table frames, translation on",
            r"^\[warn \] IOMMU fault: VM selftest-vm, device 00:02\.0, read of 0x[0-9a-f]+000,"
            r" read of a page not mapped readable \(1 for this VM\)",
            r"^\[info \] iommu selftest: 1 fault\(s\) for selftest-vm; domain torn down,"
            r" translation on, table frames back: all",
        ] + HELLO_ENDS, forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"IOMMU fault: VM \(none\)"],
             env=Q35_E1000, qemu_args=["-nic", "none"]),
        # aw-bits=48: SAGAW 0x6 offers 4 levels, which the domain then uses.
        Case("qemu-svm-iommu-vtd-fault-4-level", "qemu", ISO, [
            r"^\[info \] iommu: VT-d 1\.0 at 0xfed90000, segment 0, scopes 8, host width 48,"
            r" RMRRs 0; cap 0xd2008c222f0606 \(domains 65536, SAGAW 0x6, MGAW 48,",
            r"^\[info \] iommu selftest: domain 1 for selftest-vm, 4 table frames, translation on",
            # Reason 6, not 3 (context invalid): the unit accepted AW = 2 and walked 4 levels.
            r"^\[warn \] IOMMU fault: VM selftest-vm, device 00:02\.0, read of 0x[0-9a-f]+000,"
            r" read of a page not mapped readable",
            r"^\[info \] iommu selftest: 1 fault\(s\) for selftest-vm; domain torn down,"
            r" translation on, table frames back: all",
        ] + HELLO_ENDS, forbid=[r"PEREGRINE (PANIC|EXCEPTION)"],
             env=dict(Q35_E1000, PEREGRINE_IOMMU="intel-48",
                      PEREGRINE_NET="socket,udp=127.0.0.1:27435,localaddr=127.0.0.1:27436"),
             qemu_args=["-nic", "none"]),
        Case("qemu-svm-iommu-absent-on-pc", "qemu", ISO,
             [r"^\[info \] iommu: no DMAR table"] + HELLO_ENDS,
             forbid=[r"iommu selftest", r"IOMMU fault"], qemu_args=["-nic", "none"]),
    ]
