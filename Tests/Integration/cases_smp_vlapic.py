"""Multi-vCPU local APICs: the x2APIC through MSRs (IDs, LDR, SELF IPI, ICR IPIs to another
vCPU by physical and logical destination, the #GPs of SDM 3A §11.12), beside a companion
VM that must finish. One ISO, on both backends."""

from harness import Case

ISOS = {
    "build/test/smp-vlapic.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/x2apic.bin:vm name=x2apic cpus=2 apic=on",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

EXPECT = [
    r"summary: vm x2apic: stopped by the guest, exit code 0",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]
FORBID = [
    r"^\[(x2apic|well-behaved)\] FAIL",
    r"exit storm",
    r"PEREGRINE (PANIC|EXCEPTION)",
]
COUNTS = {
    r"^\[x2apic\] PASS ": 16,
}


def cases():
    # 16 PASS lines: the host CPUs of both emulators have CPUID leaf 0xB.
    return [
        Case("qemu-svm-smp-x2apic", "qemu", "build/test/smp-vlapic.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=180),
        Case("bochs-vmx-smp-x2apic", "bochs", "build/test/smp-vlapic.iso",
             [r"vmx: every requested VMX control is available"] + EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=400),
    ]
