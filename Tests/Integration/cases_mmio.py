"""Hardening of MMIO and string I/O emulation (docs/hardening.md): guests that attack the
hypervisor through REP STOS to a device, an IDT on MMIO, a stale code TLB, string port I/O
and an access straddling a device's end, beside a well-behaved companion that must finish.
The hypervisor must stay up and each attacker must get the stated result, on both backends."""

from harness import Case

ISO = "build/test/hardening-mmio.iso"

ISOS = {
    ISO: {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/mmio-rep-stos.bin:vm name=rep-stos-64",
        "build/guests/hardening/mmio-rep-stos-32.bin:vm name=rep-stos-32",
        "build/guests/hardening/idt-on-mmio.bin:vm name=idt-on-mmio",
        "build/guests/hardening/string-port-io.bin:vm name=string-io",
        "build/guests/hardening/mmio-straddle.bin:vm name=straddle",
        "build/guests/hardening/stale-code-tlb.bin:vm name=stale-code",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

# Each line may come in any order relative to the others' VMs; the summary lines are
# printed in VM order at the end.
GUEST_LINES = [
    r"^\[rep-stos-64\] PASS rep-stosb-1000-rcx",
    r"^\[rep-stos-64\] PASS rep-stosb-1000-rdi",
    r"^\[rep-stos-64\] PASS rep-stosq-data",
    r"^\[rep-stos-64\] PASS rep-stosb-down-rdi",
    r"^\[rep-stos-32\] PASS rep-stosd-32-ecx",
    r"^\[rep-stos-32\] PASS rep-stosd-32-edi",
    r"^\[string-io\] INFO rep outsb: this line is 100 characters long",
    r"^\[string-io\] PASS rep-outsb-esi",
    r"^\[string-io\] PASS rep-insb-data",
    r"^\[string-io\] PASS insw-single-ecx",
    r"^\[straddle\] PASS straddle-device-readable",
    r"^\[stale-code\] PASS stale-code-consistent",
]

SUMMARY = [
    r"summary: vm rep-stos-64: write to guest-physical 0xfed01000, outside its memory and every device",
    r"summary: vm rep-stos-32: write to guest-physical 0xfed01000, outside its memory and every device",
    r"summary: vm idt-on-mmio: the processor could not deliver vector 13: its descriptor table"
    r" or stack lies in MMIO or unmapped memory \(guest-physical 0xfed000d0\)",
    r"summary: vm string-io: INS/OUTS on port 0x3f8 with its memory operand at guest-linear"
    r" 0xfed00000, which is not guest RAM",
    r"summary: vm straddle: read of guest-physical 0xfed01000, outside its memory and every device",
    r"summary: vm stale-code: stopped by the guest, exit code 0",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]

FORBID = [r"FAIL", r"PEREGRINE (PANIC|EXCEPTION)"]


def cases():
    # Under QEMU (TCG, SVM without NRIPS) the stale TLB entry is really used: the CPUID
    # exit finds other bytes at RIP, which the stale-code VM's statistics show.
    stale = [r"^\[stale-code\] DONE failures=0",
             r"^    decoded instruction did not match the exit \(re-executed\): [1-9]"]
    return [
        Case("qemu-svm-mmio-hardening", "qemu", ISO, stale + SUMMARY, forbid=FORBID,
             timeout=180, counts={line: 1 for line in GUEST_LINES}),
        Case("bochs-vmx-mmio-hardening", "bochs", ISO, SUMMARY, forbid=FORBID,
             timeout=600, counts={line: 1 for line in GUEST_LINES}),
    ]
