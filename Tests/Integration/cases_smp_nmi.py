"""NMIs and fixed IPIs between two vCPUs in a tight loop (guests/smp/nmi-storm.asm:
kvm-unit-tests' multiple-nmi as a flat guest): every round vCPU 0 gets one or two NMIs and
one fixed IPI, and the host must survive the kicks that go with them.

Under QEMU 7.2's multi-threaded TCG this guest ends the host (triple fault right after a
#VMEXIT, docs/kvm-unit-tests.md "A host panic on AMD-V") or itself in about 2 runs in 5,
within seconds; one TCG thread passed every run. The case runs on one TCG thread, so it
checks Peregrine's NMI and IPI delivery (counts, host survival) without the emulator
defect; `scripts/run-qemu.sh build/test/smp-nmi-storm.iso` is the reproduction. Bochs
(VT-x, 2 CPUs) runs it as well, with 1,000 rounds (nmi-storm-short.asm) to bound its time."""

from harness import Case

ISOS = {
    "build/test/smp-nmi-storm.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/nmi-storm.bin:vm name=storm cpus=2 apic=on",
    ]},
    "build/test/smp-nmi-storm-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/nmi-storm-short.bin:vm name=storm cpus=2 apic=on",
    ]},
}

EXPECT = [
    r"^\[storm\] PASS smp-vcpus-started",
    r"^\[storm\] PASS nmi-storm-rounds",
    r"^\[storm\] PASS nmi-storm-nmis",
    r"summary: vm storm: stopped by the guest, exit code 0",
]
FORBID = [
    r"^\[storm\] FAIL",
    r"PEREGRINE (PANIC|EXCEPTION)",
    r"shutdown \(triple fault\)",
]


def cases():
    return [
        Case("qemu-svm-smp-nmi-storm", "qemu", "build/test/smp-nmi-storm.iso", EXPECT,
             forbid=FORBID, timeout=60, env={"PEREGRINE_TCG_SINGLE": "1"}),
        Case("bochs-vmx-smp-nmi-storm", "bochs", "build/test/smp-nmi-storm-short.iso", EXPECT,
             forbid=FORBID, timeout=180, env={"PEREGRINE_BOCHS_CPUS": "2"}),
    ]
