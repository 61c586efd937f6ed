"""Interrupt hardening: IPIs (fixed, all including self), self-NMIs, and INIT/SIPI to a
stopped vCPU (no effect) between the vCPUs of one VM, a local APIC timer flood beside a companion VM, and a CPUID benchmark loop that the
exit-storm detector must leave alone. One ISO, on both backends."""

from harness import Case

ISOS = {
    "build/test/interrupts.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/interrupts.bin:vm name=ipi-nmi cpus=2 apic=on",
        "build/guests/hardening/timer-flood.bin:vm name=timer-flood apic=on",
        "build/guests/hardening/cpuid-loop.bin:vm name=cpuid-loop",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

EXPECT = [
    r"summary: vm ipi-nmi: stopped by the guest, exit code 0",
    r"summary: vm timer-flood: stopped by the guest, exit code 0",
    r"summary: vm cpuid-loop: stopped by the guest, exit code 0",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]
FORBID = [
    r"^\[(ipi-nmi|timer-flood|cpuid-loop|well-behaved)\] FAIL",
    r"exit storm",
    r"PEREGRINE (PANIC|EXCEPTION)",
]
COUNTS = {
    r"^\[ipi-nmi\] PASS ": 8,
    r"^\[timer-flood\] PASS ": 2,
    r"^\[cpuid-loop\] PASS cpuid-loop-not-stopped": 1,
}


def cases():
    return [
        Case("qemu-svm-interrupts", "qemu", "build/test/interrupts.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=180),
        Case("bochs-vmx-interrupts", "bochs", "build/test/interrupts.iso",
             [r"vmx: every requested VMX control is available"] + EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=400),
    ]
