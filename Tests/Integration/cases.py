"""The integration cases: what each boot must print and how it must end."""

from harness import Case

# ISOs by path: the kernel command line and the guest modules (FILE:NAME) each one carries.
ISOS = {
    "build/test/boot.iso": {"cmdline": "loglevel=info"},
    "build/test/selftest-write-text.iso": {"cmdline": "selftest=write-text"},
    "build/test/selftest-execute-data.iso": {"cmdline": "selftest=execute-data"},
    "build/test/selftest-stack-overflow.iso": {"cmdline": "selftest=stack-overflow"},
    "build/test/selftest-null.iso": {"cmdline": "selftest=null"},
    "build/test/selftest-panic.iso": {"cmdline": "selftest=panic"},
}

BANNER = r"^Peregrine \d+\.\d+\.\d+\S* -- a Type-I hypervisor"
FOUNDATION = [
    BANNER,
    r"memory map:",
    r"usable memory: \d+ MiB",
    r"frame allocator: \d+ free frames",
    r"kernel page tables: text 0x\w+-0x\w+ RX, rodata RO, data NX, stack guard",
]


def foundation_cases():
    return [
        Case("qemu-boot-detects-svm", "qemu", "build/test/boot.iso",
             FOUNDATION + [r"cpu: vendor AuthenticAMD", r"cpu: SVM revision \d+ NPT\+ NRIPS- .*ASIDs \d+",
                           r"virtualization: AMD-V with nested paging"]),
        Case("bochs-boot-detects-vmx", "bochs", "build/test/boot.iso",
             FOUNDATION + [r"cpu: vendor GenuineIntel", r"cpu: VMX revision 0x2b EPT\+ VPID\+ unrestricted-guest\+",
                           r"virtualization: Intel VT-x with EPT"], timeout=90),
        Case("qemu-no-virtualization-refused", "qemu", "build/test/boot.iso",
             [BANNER, r"cpu: SVM not available",
              r"neither VMX with EPT nor SVM with nested paging: Peregrine cannot run guests here"],
             status="failure", qemu_args=["-cpu", "EPYC,-svm"]),
        Case("selftest-kernel-text-is-read-only", "qemu", "build/test/selftest-write-text.iso",
             [r"PEREGRINE EXCEPTION: #PF page fault \(vector 14\)", r"^  rip = 0x", r"^  cr2 = 0x",
              r"page fault: protection violation on write", r"^  r15 = 0x", r"backtrace:", r"SelfTests\.runRequested", r"kmain"],
             status="panic"),
        Case("selftest-data-is-not-executable", "qemu", "build/test/selftest-execute-data.iso",
             [r"#PF page fault", r"protection violation on instruction fetch"], status="panic"),
        Case("selftest-stack-guard-catches-overflow", "qemu", "build/test/selftest-stack-overflow.iso",
             [r"PEREGRINE EXCEPTION: #DF double fault", r"kernel stack overflow"], status="panic"),
        Case("selftest-null-pointer-faults", "qemu", "build/test/selftest-null.iso",
             [r"#PF page fault", r"cr2 = 0x0000000000000008", r"page not present on write"], status="panic"),
        Case("selftest-panic-reports", "qemu", "build/test/selftest-panic.iso",
             [r"PEREGRINE PANIC: panic requested by selftest", r"backtrace:", r"Panic|panic"], status="panic"),
    ]


def all_cases():
    return foundation_cases()
