"""Guest-side fuzzing (docs/guest-fuzzing.md): a guest runs seeded random instruction
streams in real, 16/32-bit protected and 64-bit long mode beside a well-behaved companion.
The hypervisor must survive and the companion must finish. The fuzz VM itself may end early
(a triple fault, or a stop the hypervisor explains): that is the guest's business, so the case
accepts any stated reason for it, but never a panic, a hang or a missing summary.

The default build of guests/hardening/instruction-fuzz.asm (its SEED and ITERATIONS) runs
to `FUZZ done` on today's code; `scripts/fuzz-guest.sh` runs other seeds for longer."""

from harness import Case

ISOS = {
    "build/test/guest-fuzz.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/instruction-fuzz.bin:vm name=fuzz unmapped=ignore",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

# What both the integration cases and scripts/fuzz-guest.sh require of a run.
EXPECT = [
    r"^\[fuzz\] FUZZ seed=0x[0-9A-F]{8} iterations=\d+ known_bugs=\d mode=real",
    r"^\[fuzz\] FUZZ progress n=\d+",
    r"summary: 2 VMs ran",
    r"summary: vm fuzz: \S",
    r"summary: vm well-behaved: stopped by the guest, exit code 0",
]
FORBID = [r"PEREGRINE (PANIC|EXCEPTION)", r"^\[well-behaved\] FAIL"]
COUNTS = {r"^\[well-behaved\] DONE failures=0": 1}


def cases():
    return [
        Case("qemu-svm-guest-fuzz", "qemu", "build/test/guest-fuzz.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=90),
        Case("bochs-vmx-guest-fuzz", "bochs", "build/test/guest-fuzz.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, timeout=150),
    ]
