"""Real-mode exception delivery and 32-bit PAE paging (guest fuzzer findings): a #GP injected
into a real-mode guest pushes no error code (VT-x refuses the entry otherwise), and a guest
that turns on PAE paging outside long mode runs through its PDPTEs (VT-x loads them from the
VMCS), checked on both backends next to a well-behaved companion VM."""

from harness import Case

ISO = "build/test/realmode-pae.iso"
ISOS = {
    ISO: {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/real-mode-faults.bin:vm name=realfaults",
        "build/guests/hardening/pae-paging.bin:vm name=pae",
        "build/guests/tests/real-mode.bin:vm name=companion",
    ]},
}

FRAME = ["gp-called", "gp-frame-ip", "gp-frame-cs", "gp-frame-flags", "gp-frame-size"]
REAL_MODE = (["rdmsr-" + check for check in FRAME] + ["wrmsr-" + check for check in FRAME]
             + ["cr0-nw-" + check for check in FRAME] + ["cr0-nw-unchanged", "gp-iret-resumes"])
PAE = ["pae-paging-on", "pae-paging-on-cr0", "pae-code-runs", "pae-alias-read", "pae-alias-write",
       "pae-paging-off", "pae-paging-off-cr0", "pae-paging-on-native", "pae-reloaded-pdpte-native",
       "pae-paging-off-native", "pae-paging-on-again", "pae-reloaded-pdpte", "pae-paging-off-again"]
PAE_INTEL = ["pae-invalid-pdpte-gp", "pae-invalid-pdpte-unchanged", "pae-invalid-pdpte-gp-native",
             "pae-invalid-pdpte-unchanged-native"]


def realmode_case(name, emulator, pae_checks, timeout):
    """The VMs' lines interleave: each PASS line must appear exactly once, in any order."""
    counts = {r"^\[realfaults\] PASS %s$" % check: 1 for check in REAL_MODE}
    counts.update({r"^\[pae\] PASS %s$" % check: 1 for check in pae_checks})
    expect = [r"^\[realfaults\] TEST real-mode-faults starting", r"^\[realfaults\] DONE failures=0"]
    expect += [r"summary: vm %s: stopped by the guest, exit code 0" % vm
               for vm in ("realfaults", "pae", "companion")]
    return Case(name, emulator, ISO, expect, counts=counts,
                forbid=[r"^\[(realfaults|pae|companion)\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"],
                timeout=timeout)


def cases():
    return [
        realmode_case("qemu-svm-realmode-pae", "qemu", PAE, 120),
        realmode_case("bochs-vmx-realmode-pae", "bochs", PAE + PAE_INTEL, 240),
    ]
