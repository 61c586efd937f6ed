"""Hidden and privileged instructions, CR0/CR4 rules (guests/hardening/privileged-ops*.asm):
every probe gets the architectural #UD or #GP(0) on both vendors, and the VMs go on."""

from harness import Case

ISOS = {
    "build/test/privileged-ops.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/privileged-ops.bin:vm name=privileged-ops",
        "build/guests/hardening/privileged-ops-32.bin:vm name=privileged-ops-32",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

# How many checks each guest prints (its own count, from its header).
SUITES = {"privileged-ops": 62, "privileged-ops-32": 26}


def privileged_case(name, emulator, timeout):
    expect = [r"summary: 3 VMs ran"]
    expect += [r"summary: vm %s: stopped by the guest, exit code 0" % vm
               for vm in list(SUITES) + ["well-behaved"]]
    # RDTSCP is offered on both emulated hosts (docs/guest-abi.md): its check passes
    # everywhere (it was SKIP on QEMU, whose TCG ignores the RDTSCP intercept once set).
    counts = {r"^\[%s\] PASS " % vm: n for vm, n in SUITES.items()}
    counts.update({r"^\[%s\] SKIP " % vm: 0 for vm in SUITES})
    counts.update({r"^\[%s\] DONE failures=0" % vm: 1 for vm in list(SUITES) + ["well-behaved"]})
    return Case(name, emulator, "build/test/privileged-ops.iso", [r"Peregrine \d+"] + expect,
                forbid=[r"^\[[a-z0-9-]+\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)",
                        r"unexpected exit", r"entry fail"],
                timeout=timeout, counts=counts)


def cases():
    return [
        privileged_case("qemu-svm-privileged-ops", "qemu", 120),
        privileged_case("bochs-vmx-privileged-ops", "bochs", 240),
    ]
