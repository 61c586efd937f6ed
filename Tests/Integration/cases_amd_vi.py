"""The AMD-Vi driver (docs/iommu.md, "AMD-Vi") under QEMU q35 with `-cpu EPYC -device amd-iommu`.

- The node finds the IVHD in the IVRS table, reports it and the EFR decoded, enables the
  IOMMU with a 2 MiB device table of pass-through entries, a command buffer and an event
  log, and sees its first COMPLETION_WAIT store land.
- `iommu=selftest`: the node's e1000 goes into a stand-in VM's domain (DTE mode 4, I/O page
  tables over 64 KiB of RAM at guest-physical 0) and is made to send a frame; the event log
  is read. QEMU 7.2's amd-iommu blocks the descriptor read but logs no event for an all-zero
  PTE and never advances its Event Log Tail register, so the case checks the blocking side
  only (0 events reported) and pins what QEMU shows of its event log, so a QEMU that starts
  reporting makes this case fail and be revisited. The domain is torn down (frames back),
  then a VM runs as usual with the IOMMU still enabled.
"""

from harness import Case

from cases_iommu import HELLO_ENDS, ISO

ISOS = {}

Q35_AMD_E1000 = {
    "PEREGRINE_MACHINE": "q35",
    "PEREGRINE_IOMMU": "amd",
    "PEREGRINE_NET_MODEL": "e1000",
    # Nobody listens: the node's DHCP stays unanswered, no traffic but the selftest's frame.
    "PEREGRINE_NET": "socket,udp=127.0.0.1:27441,localaddr=127.0.0.1:27442",
}


def cases():
    return [
        Case("qemu-svm-iommu-amd-vi-selftest", "qemu", ISO, [
            r"^\[info \] iommu: AMD-Vi IVHD type 0x10 at 0xfed80000, device 00:02\.0,"
            r" segment 0, device entries [0-9]+, PA size 40; EFR 0x29d3 \(IA GT GA host levels 6\)",
            r"^\[info \] iommu: AMD-Vi enabled \(device table 2 MiB, all entries pass-through\),"
            r" command buffer and event log running, COMPLETION_WAIT store seen",
            r"^\[info \] iommu selftest: AMD-Vi domain 1 for selftest-vm, 4 table frames, DTE mode 4",
            r"^\[info \] iommu selftest: event log tail register 0x0, status 0x18, raw entry 0 0x0 0x0",
            r"^\[info \] iommu selftest: 0 fault\(s\) for selftest-vm; domain torn down,"
            r" device back to pass-through, table frames back: all",
        ] + HELLO_ENDS, forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"ivrs: "],
             env=Q35_AMD_E1000, qemu_args=["-nic", "none"]),
    ]
