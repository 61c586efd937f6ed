"""INIT/SIPI start-up of application processors (guests/smp/startup.asm, profile
start=bsp), beside a companion VM that must finish. One ISO, on both backends.

PENDING: rename to cases_smp_startup.py once the kernel drains each vCPU's requests before
entry and for halted / waiting vCPUs (VCPURequests.drain) and loads `startupState` into the
VMCB/VMCS (SDM 3A §9.4.3). Verified on QEMU/AMD-V with a minimal version of both."""

from harness import Case

ISOS = {
    "build/test/smp-startup.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/startup.bin:vm name=startup cpus=3 apic=on start=bsp",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

EXPECT = [
    r"summary: vm startup: stopped by the guest, exit code 0",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]
FORBID = [
    r"^\[(startup|well-behaved)\] FAIL",
    r"exit storm",
    r"PEREGRINE (PANIC|EXCEPTION)",
]
COUNTS = {
    r"^\[startup\] PASS ": 9,
}


def cases():
    return [
        Case("qemu-svm-smp-startup", "qemu", "build/test/smp-startup.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=180),
        Case("bochs-vmx-smp-startup", "bochs", "build/test/smp-startup.iso",
             [r"vmx: every requested VMX control is available"] + EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=400),
    ]
