"""The guest's own paging protection on emulated MMIO (docs/hardening.md): CPL 3 reads of a
supervisor page (the device, and a page with nothing behind it under unmapped=ignore), a CPL 3
write to a read-only map and a CPL 0 write with CR0.WP = 1 must each be the guest's #PF with
the architectural error code and CR2, nothing emulated; the allowed accesses are emulated as
before. INS/OUTS whose memory operand is read-only or not present must be #PF too: their exit
comes before the memory access, so those checks fail on both backends without the hypervisor's
check (the VM stopped instead). A well-behaved companion must finish too."""

from harness import Case

ISO = "build/test/hardening-mmio-permissions.iso"

ISOS = {
    ISO: {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/mmio-permissions.bin:vm name=mmio-perm unmapped=ignore",
        "build/guests/examples/hello.bin:vm name=well-behaved",
    ]},
}

CHECKS = [
    "kernel-read-device", "kernel-read-readonly-map",
    "user-read-supervisor-pf", "user-read-supervisor-error-code", "user-read-supervisor-cr2",
    "user-read-nothing-pf", "user-read-nothing-error-code", "user-read-nothing-cr2",
    "user-write-readonly-pf", "user-write-readonly-error-code", "user-write-readonly-cr2",
    "user-write-readonly-not-written",
    "user-read-user-readonly-no-pf", "user-read-user-readonly",
    "kernel-write-readonly-wp-pf", "kernel-write-readonly-wp-error-code",
    "kernel-write-readonly-wp-cr2", "kernel-write-readonly-wp-not-written",
    "kernel-write-readonly-nowp-no-pf", "kernel-write-readonly-nowp",
    "ins-readonly-wp-pf", "ins-readonly-wp-error-code", "ins-readonly-wp-cr2",
    "ins-readonly-wp-not-written", "ins-readonly-wp-edi-kept",
    "ins-not-present-pf", "ins-not-present-error-code", "ins-not-present-cr2",
    "outs-not-present-pf", "outs-not-present-error-code", "outs-not-present-cr2",
]

EXPECT = [
    r"^\[mmio-perm\] DONE failures=0",
    r"summary: vm mmio-perm: stopped by the guest, exit code 0",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]

FORBID = [r"FAIL", r"PEREGRINE (PANIC|EXCEPTION)"]


def cases():
    counts = {rf"^\[mmio-perm\] PASS {name}$": 1 for name in CHECKS}
    return [
        Case("qemu-svm-mmio-permissions", "qemu", ISO, EXPECT, forbid=FORBID, timeout=120,
             counts=counts),
        Case("bochs-vmx-mmio-permissions", "bochs", ISO, EXPECT, forbid=FORBID, timeout=400,
             counts=counts),
    ]
